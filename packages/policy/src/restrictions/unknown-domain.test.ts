import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine/index.ts';
import { PolicyError } from '../errors.ts';
import { createManualClock, createMemoryAccessMaps, createMemoryDnsList, createMemoryGreylist } from '../memory-ports.ts';
import { createStaticRecipients } from '../recipients.ts';
import { parseRestrictions } from '../parse.ts';
import { replyLine } from '../reply.ts';
import { rcpt, testEngine } from './testing.ts';

const DOMAINS = { 'nx.example': 'not-found', 'null.example': 'null-mx', 'tmp.example': 'temporary' } as const;
const sender = async (from: string, list = 'reject_unknown_sender_domain, permit', spec = {}, async = false) => {
  const t = testEngine({ list, domains: DOMAINS, spec, async });
  return { v: await t.engine.evaluate(rcpt({ sender: from })), asked: t.mailDomains.asked };
};
// our own network, so the relay list lets a remote recipient through to the spam policy
const recipient = async (to: string, spec = {}) => {
  const t = testEngine({ list: 'reject_unknown_recipient_domain, permit', domains: DOMAINS, spec });
  return t.engine.evaluate(rcpt({ clientAddress: '127.0.0.1', recipient: to }));
};

describe('reject_unknown_sender_domain', () => {
  it('no MX, A or AAAA: 450 4.1.8 (unknown_address_reject_code 450)', async () => {
    const { v } = await sender('x@nx.example');
    expect(replyLine(v)).toBe('450 4.1.8 <x@nx.example>: Sender address rejected: Domain not found');
    expect(v).toMatchObject({ action: 'defer', decidedBy: 'reject_unknown_sender_domain' });
    expect(v.trace.at(-1)?.reason).toBe('nx.example: no MX, A or AAAA');
  });
  it('unknown_address_reject_code 550: 550 5.1.8', async () => {
    const { v } = await sender('x@nx.example', undefined, { unknownAddressRejectCode: 550 });
    expect(replyLine(v)).toBe('550 5.1.8 <x@nx.example>: Sender address rejected: Domain not found');
    expect(v.action).toBe('reject');
  });
  it('a null MX: 550 5.7.27 ... does not accept mail (nullMX)', async () => {
    expect(replyLine((await sender('x@null.example')).v)).toBe('550 5.7.27 <x@null.example>: Sender address rejected: Domain null.example does not accept mail (nullMX)');
  });
  it('a temporary DNS failure defers only if nothing rejects (defer_if_permit)', async () => {
    const permitted = (await sender('x@tmp.example')).v;
    expect(replyLine(permitted)).toBe('450 4.1.8 <x@tmp.example>: Sender address rejected: Domain not found');
    expect(permitted.decidedBy).toBe('reject_unknown_sender_domain');
    expect(permitted.trace.find((t) => t.restriction === 'reject_unknown_sender_domain')).toMatchObject({ outcome: 'dunno', reason: expect.stringContaining('defer_if_permit') });
    expect(replyLine((await sender('x@tmp.example', 'reject_unknown_sender_domain, reject')).v)).toBe('554 5.7.1 <alice@example.org>: Recipient address rejected: Access denied');
  });
  it('unknown_address_tempfail_action = defer: at once', async () => {
    const { v } = await sender('x@tmp.example', 'reject_unknown_sender_domain, reject', { unknownAddressTempfailAction: 'defer' });
    expect(replyLine(v)).toBe('450 4.1.8 <x@tmp.example>: Sender address rejected: Domain not found');
  });
  it('a domain that exists passes; ours, address literals, <> and local parts are not looked up', async () => {
    const ok = await sender('x@sender.example');
    expect(ok.v.action).toBe('permit');
    expect(ok.asked).toEqual(['sender.example']);
    for (const from of ['bob@example.org', 'x@backup.example', 'x@[192.0.2.1]', '', 'postmaster']) {
      const r = await sender(from);
      expect(r.v.action, from).toBe('permit');
      expect(r.asked, from).toEqual([]);
    }
  });
  it('an async port answers the same', async () => {
    expect(replyLine((await sender('x@nx.example', undefined, {}, true)).v)).toBe('450 4.1.8 <x@nx.example>: Sender address rejected: Domain not found');
    expect((await sender('x@tmp.example', 'reject_unknown_sender_domain, permit', {}, true)).v.action).toBe('defer');
  });
  it('an engine without the mail-domain port refuses a list that needs it', () => {
    const clock = createManualClock();
    const ports = { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock }), recipients: createStaticRecipients({ domains: [] }), accessMaps: createMemoryAccessMaps({}), clock };
    const build = () => createEngine({ ...testEngine().engine.spec, recipientRestrictions: parseRestrictions('permit_mynetworks, reject_unknown_recipient_domain') }, ports);
    expect(build).toThrow(PolicyError);
    expect(build).toThrow('item 2: "recipient restrictions: reject_unknown_recipient_domain": needs the mailDomains port, which this engine was not given');
  });
});

describe('reject_unknown_recipient_domain', () => {
  it('450 4.1.2 / nullMX 556 5.1.10', async () => {
    expect(replyLine(await recipient('x@nx.example'))).toBe('450 4.1.2 <x@nx.example>: Recipient address rejected: Domain not found');
    expect(replyLine(await recipient('x@null.example'))).toBe('556 5.1.10 <x@null.example>: Recipient address rejected: Domain null.example does not accept mail (nullMX)');
    expect((await recipient('x@remote.example')).action).toBe('permit');
  });
});
