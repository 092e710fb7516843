import { describe, expect, it } from 'vitest';
import { replyLine } from '../reply.ts';
import { rcpt, testEngine } from '../restrictions/testing.ts';

const DNSWL = { 'list.dnswl.org': { '198.51.100.7': { codes: ['127.0.10.2'] } } };

describe('smtpd_reject_unlisted_recipient (implicit, default yes)', () => {
  it('an unknown user is refused even after a DNS whitelist permitted', async () => {
    const { engine } = testEngine({ list: 'permit_dnswl_client list.dnswl.org, reject', dns: DNSWL });
    const v = await engine.evaluate(rcpt({ recipient: 'nobody@example.org' }));
    expect(replyLine(v)).toBe('550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table');
    expect(v.decidedBy).toBe('reject_unlisted_recipient');
    expect(v.trace.at(-1)).toMatchObject({ restriction: 'reject_unlisted_recipient', list: 'recipient', outcome: 'reject', reason: 'implicit: smtpd_reject_unlisted_recipient = yes (unknown user)' });
    expect((await engine.evaluate(rcpt())).action).toBe('permit');
  });
  it('and after our own network permitted; a remote recipient is not a local user', async () => {
    const { engine } = testEngine({ list: 'permit' });
    expect((await engine.evaluate(rcpt({ clientAddress: '127.0.0.1', recipient: 'nobody@example.org' }))).action).toBe('reject');
    expect((await engine.evaluate(rcpt({ clientAddress: '127.0.0.1', recipient: 'x@remote.example' }))).action).toBe('permit');
  });
  it('off with rejectUnlistedRecipient: false, and by default when the caller does relay control', async () => {
    expect((await testEngine({ spec: { rejectUnlistedRecipient: false } }).engine.evaluate(rcpt({ recipient: 'nobody@example.org', clientAddress: '127.0.0.1' }))).action).toBe('permit');
    expect((await testEngine({ relay: '', spec: { relayControl: 'caller' } }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }))).action).toBe('permit');
  });
  it('a deferral or reject from the lists stands (Postfix applies it only when nothing refused)', async () => {
    const v = await testEngine({ list: 'defer' }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }));
    expect(v.decidedBy).toBe('defer');
  });
  it('defer_if_reject turns it into the deferral; defer_if_permit comes first', async () => {
    expect(replyLine(await testEngine({ list: 'defer_if_reject, permit' }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' })))).toBe('450 4.7.0 <nobody@example.org>: Recipient address rejected: defer_if_reject requested');
    expect((await testEngine({ list: 'defer_if_permit, permit' }).engine.evaluate(rcpt({ recipient: 'nobody@example.org' }))).decidedBy).toBe('defer_if_permit');
  });
  it("says what the recipient port says: the class's table (Postfix check_rcpt_maps), explicit or implicit", async () => {
    const verify = (r: string) => ({ accepted: false as const, status: '5.1.1', text: `User unknown in ${r.endsWith('@backup.example') ? 'relay recipient' : 'virtual mailbox'} table` });
    for (const list of ['permit_dnswl_client list.dnswl.org, reject', 'reject_unlisted_recipient, permit']) {
      const { engine } = testEngine({ list, dns: DNSWL, verify });
      expect(replyLine(await engine.evaluate(rcpt({ recipient: 'nobody@example.org' }))), list).toBe('550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table');
    }
    // a port that fails is a lookup failure, as Postfix's reject_dict_retry: 451 4.3.0, never a hard 550
    const { engine } = testEngine({ list: 'reject_unlisted_recipient', verify: () => { throw new Error('table gone'); } });
    expect(replyLine(await engine.evaluate(rcpt({ recipient: 'nobody@example.org' })))).toBe('451 4.3.0 <nobody@example.org>: Temporary lookup failure');
  });
  it('async recipient port, and a directory failure: 451 4.3.0', async () => {
    const { engine } = testEngine({ list: 'permit_dnswl_client list.dnswl.org', dns: DNSWL, async: true });
    expect((await engine.evaluate(rcpt({ recipient: 'nobody@example.org' }))).action).toBe('reject');
    expect((await engine.evaluate(rcpt())).action).toBe('permit');
  });
});

describe('smtpd_reject_unlisted_sender (default no)', () => {
  const spec = { rejectUnlistedSender: true };
  it('an unknown sender address of our domains: 550 5.1.0, before the lists', async () => {
    const v = await testEngine({ list: 'permit', spec }).engine.evaluate(rcpt({ sender: 'nobody@example.org' }));
    expect(replyLine(v)).toBe('550 5.1.0 <nobody@example.org>: Sender address rejected: User unknown in local recipient table');
    expect(v.decidedBy).toBe('reject_unlisted_sender');
    expect(v.trace).toHaveLength(1);
  });
  it('known and foreign senders and <> pass; off by default', async () => {
    const { engine } = testEngine({ list: 'permit', spec });
    for (const sender of ['bob@example.org', 'carol@sender.example', '']) expect((await engine.evaluate(rcpt({ sender }))).action, sender).toBe('permit');
    expect((await testEngine({ list: 'permit' }).engine.evaluate(rcpt({ sender: 'nobody@example.org' }))).action).toBe('permit');
  });
  it('at MAIL without delay_reject: after the list, unless it refused', async () => {
    const { engine } = testEngine({ list: 'permit', spec: { ...spec, delayReject: false } });
    const v = await engine.evaluate({ ...rcpt({ sender: 'nobody@example.org' }), stage: 'mail', recipient: undefined });
    expect(v.action).toBe('reject');
    const ok = await engine.evaluate({ ...rcpt(), stage: 'mail', recipient: undefined });
    expect(ok.action).toBe('continue');
    const refused = await testEngine({ list: 'reject', spec: { ...spec, delayReject: false } }).engine.evaluate({ ...rcpt({ sender: 'nobody@example.org' }), stage: 'mail', recipient: undefined });
    expect(refused.decidedBy).toBe('reject');
  });
  it('the explicit restriction, with an async directory', async () => {
    const v = await testEngine({ list: 'reject_unlisted_sender, permit', async: true }).engine.evaluate(rcpt({ sender: 'nobody@example.org' }));
    expect(replyLine(v)).toBe('550 5.1.0 <nobody@example.org>: Sender address rejected: User unknown in local recipient table');
  });
});
