// DMARC enforcement at end of DATA with real DNS: SPF, DKIM, DMARC and ARC key records in a test zone served by
// a real Unbound, messages signed with @moat/dkim and sealed by mailauth as a mailing list would seal them.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dkimRecord, type DkimKey, describePrivateKey, generateDkimKey, signIfConfigured } from '@moat/dkim';
import type { Facts, Verdict } from '@moat/policy';
import { authPlain, SmtpClient, startBlackholeDns, startUnbound, type BlackholeDns, type UnboundServer } from '@moat/testkit';
import { authenticate, sealMessage } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDns } from '@moat/dns';
import type { MxResolver } from '../src/dns.ts';
import { authenticatorFor, startTestMx, type TestMx, userHash } from './harness.ts';

// 1024-bit keys: each record fits one TXT character-string
const key = (domain: string, selector: string): DkimKey & { record: string } => {
  const k = generateDkimKey('rsa', 1024);
  const r = dkimRecord(domain, selector, describePrivateKey(k.privateKeyPem));
  return { domain, selector, privateKey: k.privateKeyPem, record: `${r.name}. 60 IN TXT "${r.value}"` };
};
const author = key('reject.test', 's1');
const list = key('lists.test', 'arc');
const evil = key('evil.test', 'arc');

const ZONE = [
  'reject.test. 60 IN TXT "v=spf1 -all"',
  '_dmarc.reject.test. 60 IN TXT "v=DMARC1; p=reject"',
  'quar.test. 60 IN TXT "v=spf1 -all"',
  '_dmarc.quar.test. 60 IN TXT "v=DMARC1; p=quarantine"',
  'none.test. 60 IN TXT "v=spf1 -all"',
  '_dmarc.none.test. 60 IN TXT "v=DMARC1; p=none"',
  // the organizational domain's sp= governs its subdomains
  '_dmarc.org.test. 60 IN TXT "v=DMARC1; p=none; sp=reject"',
  'mail.org.test. 60 IN TXT "v=spf1 -all"',
  author.record,
  list.record,
  evil.record,
];

// a client on wl1.test (the harness's fake DNS lists): permitted at RCPT without greylisting
const WORLD = '203.0.113.77';
const message = (from: string, extra: string[] = []) =>
  [`From: Alice <alice@${from}>`, 'To: rcpt@example.org', `Subject: statement for ${from}`, 'Date: Mon, 07 Dec 2026 05:00:00 +0000', `Message-ID: <1.${Date.now()}@${from}>`, ...extra, '', 'Your statement is ready.', ''].join('\r\n');

let unbound: UnboundServer;
let blackhole: BlackholeDns;
let resolver: MxResolver;
let t: TestMx;
const journaled: { facts: Facts; verdict: Verdict; reply?: string | undefined }[] = [];
const journal = { record: (facts: Facts, verdict: Verdict, x: { reply?: string | undefined }) => void journaled.push({ facts, verdict, reply: x.reply }), linkQueueId: () => {} };

beforeAll(async () => {
  blackhole = await startBlackholeDns();
  unbound = await startUnbound({ stubZones: { 'slow.test': blackhole.stubAddr }, localZones: { test: 'static' }, localData: ZONE });
  resolver = createDns({ servers: [unbound.server], timeoutMs: 1000 });
  t = await startTestMx({
    resolver,
    myNetworks: ['192.0.2.0/28'],
    mx: { dmarc: { trusted_arc_sealers: ['lists.test'] }, auth_results: { timeout: 20_000 } },
    authenticator: authenticatorFor({ alice: (await userHash('pw'))! }),
    journal,
    logs: true,
  });
}, 90_000);
afterAll(async () => {
  await t?.close();
  await unbound?.stop();
  await blackhole?.stop();
});

async function send(body: string | Buffer, o: { client?: string; sender?: string; login?: boolean } = {}) {
  const c = await SmtpClient.connect(t.port);
  await c.read();
  if (o.login) {
    await c.cmd('EHLO laptop.example');
    await c.starttls();
    await c.cmd('EHLO laptop.example');
    expect((await c.cmd(`AUTH PLAIN ${authPlain('alice', 'pw')}`)).code).toBe(235);
  } else {
    await c.cmd(`XCLIENT ADDR=${o.client ?? WORLD}`);
    await c.cmd('EHLO mail.sender.example');
  }
  await c.cmd(`MAIL FROM:<${o.sender ?? 'alice@reject.test'}>`);
  expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
  const n = t.enqueued.length;
  const r = await c.data(body);
  await c.quit();
  const queued = t.enqueued.slice(n);
  return { reply: `${r.code} ${r.text}`, queued, prepend: queued[0]?.prepend ?? [] };
}
const dmarcHeader = (prepend: string[]) => prepend.find((h) => h.startsWith('X-Moat-DMARC:'));

/** The message as a mailing list forwards it: verified on arrival, subject tagged and footer added, then ARC-sealed. */
async function viaList(signed: Buffer, sealer: DkimKey): Promise<Buffer> {
  const arrival = await authenticate(signed, {
    ip: '198.51.100.1',
    helo: 'mail.reject.test',
    sender: 'alice@reject.test',
    mta: sealer.domain,
    resolver: (name: string, type: string) => resolver.resolve(name, type) as never,
    disableBimi: true,
  });
  expect(arrival.dmarc ? arrival.dmarc.status.result : undefined).toBe('pass');
  const modified = Buffer.from(
    signed
      .toString()
      .replace(/^Subject: /m, 'Subject: [bank-announce] ')
      .replace(/\r\n$/, '\r\n-- \r\nbank-announce mailing list\r\n'),
  );
  const seal = await sealMessage(modified, {
    signingDomain: sealer.domain,
    selector: sealer.selector,
    privateKey: sealer.privateKey,
    authResults: arrival.arc ? arrival.arc.authResults! : '',
    cv: 'none',
  });
  expect(seal.length).toBeGreaterThan(0);
  return Buffer.concat([seal, modified]);
}

describe('DMARC at end of DATA, with records served by a real Unbound', () => {
  it('p=reject, unsigned and SPF failing: 550 5.7.1 naming the policy, counted, journaled, logged', async () => {
    const r = await send(message('reject.test'));
    expect(r.reply).toBe('550 5.7.1 Rejected by DMARC policy for reject.test (p=reject)');
    expect(r.queued).toHaveLength(0);
    expect(await t.registry.metrics()).toMatch(/moat_mx_rejects_total\{stage="end-of-data",restriction="dmarc",code="550"\} 1/);
    await expect.poll(() => journaled.find((j) => j.facts.stage === 'end-of-data')).toBeTruthy();
    expect(journaled.find((j) => j.facts.stage === 'end-of-data')).toMatchObject({ verdict: { decidedBy: 'dmarc', action: 'reject' }, reply: r.reply });
    expect(t.logs.find((l) => l.outcome === 'rejected-dmarc')).toMatchObject({ dmarc: { action: 'reject', domain: 'reject.test', policy: 'reject' } });
  });

  it('p=reject, signed by the author domain (DKIM aligned): accepted with dmarc=pass, no tag', async () => {
    const signed = await signIfConfigured(Buffer.from(message('reject.test')), [author]);
    expect(signed.signedBy).toBe('reject.test/s1');
    const r = await send(signed.message);
    expect(r.reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(r.prepend.find((h) => h.startsWith('Authentication-Results:'))).toMatch(/dmarc=pass/);
    expect(dmarcHeader(r.prepend)).toBeUndefined();
    expect(r.queued[0]!.hold).toBeUndefined();
  });

  it('a forged signature (body changed after signing) is a failure: 550', async () => {
    const signed = await signIfConfigured(Buffer.from(message('reject.test')), [author]);
    const r = await send(Buffer.from(signed.message.toString().replace('Your statement', 'Your invoice')));
    expect(r.reply).toBe('550 5.7.1 Rejected by DMARC policy for reject.test (p=reject)');
  });

  it('sp=reject of the organizational domain applies to its subdomain', async () => {
    const r = await send(message('mail.org.test'), { sender: 'alice@mail.org.test' });
    expect(r.reply).toBe('550 5.7.1 Rejected by DMARC policy for mail.org.test (sp=reject of org.test)');
  });

  it('p=quarantine: accepted and handed to the queue with hold: dmarc, recorded in the queue file', async () => {
    const r = await send(message('quar.test'), { sender: 'alice@quar.test' });
    expect(r.reply).toMatch(/^250 /);
    expect(r.queued[0]!.hold).toEqual({ check: 'dmarc', reason: 'DMARC p=quarantine (quar.test)' });
    expect(dmarcHeader(r.prepend)).toBe('X-Moat-DMARC: fail (domain=quar.test policy=quarantine; quarantined)');
    // held in the quarantine (hold/), never in the delivery queue
    const dir = join(t.spool, 'hold');
    const files = await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f), 'utf8')));
    expect(files.some((f) => f.includes('"check":"dmarc"') && f.includes('statement for quar.test'))).toBe(true);
  });

  it('p=none: accepted and tagged', async () => {
    const r = await send(message('none.test'), { sender: 'alice@none.test' });
    expect(r.reply).toMatch(/^250 /);
    expect(dmarcHeader(r.prepend)).toBe('X-Moat-DMARC: fail (domain=none.test policy=none; p=none (monitoring))');
    expect(r.queued[0]!.hold).toBeUndefined();
  });

  it('mynetworks and a logged-in client are exempt: tagged, never refused', async () => {
    const mine = await send(message('reject.test'), { client: '192.0.2.5' });
    expect(mine.reply).toMatch(/^250 /);
    expect(dmarcHeader(mine.prepend)).toBe('X-Moat-DMARC: fail (domain=reject.test policy=reject; exempt: mynetworks)');
    const sasl = await send(message('reject.test'), { login: true });
    expect(sasl.reply).toMatch(/^250 /);
    expect(dmarcHeader(sasl.prepend)).toBe('X-Moat-DMARC: fail (domain=reject.test policy=reject; exempt: sasl)');
  });

  it('a DMARC lookup that times out never rejects: tagged temperror', async () => {
    const r = await send(message('slow.test'), { sender: 'alice@slow.test' });
    expect(r.reply).toMatch(/^250 /);
    expect(dmarcHeader(r.prepend)).toMatch(/^X-Moat-DMARC: temperror/);
  }, 60_000);

  it('a mailing list on mx.dmarc.trusted_arc_sealers whose ARC chain verifies: accepted despite dmarc=fail, tagged', async () => {
    const signed = await signIfConfigured(Buffer.from(message('reject.test')), [author]);
    const r = await send(await viaList(signed.message, list), { sender: 'bank-announce-bounces@lists.test' });
    expect(r.reply).toMatch(/^250 /);
    const ar = r.prepend.filter((h) => h.startsWith('Authentication-Results:')).join(' ');
    expect(ar).toMatch(/dmarc=fail/);
    expect(ar).toMatch(/arc=pass/);
    expect(dmarcHeader(r.prepend)).toBe('X-Moat-DMARC: fail (domain=reject.test policy=reject; trusted ARC sealer lists.test)');
  });

  it('the same forwarding sealed by a sealer not on the list: 550', async () => {
    const signed = await signIfConfigured(Buffer.from(message('reject.test')), [author]);
    const r = await send(await viaList(signed.message, evil), { sender: 'bank-announce-bounces@evil.test' });
    expect(r.reply).toBe('550 5.7.1 Rejected by DMARC policy for reject.test (p=reject)');
  });

  it('a trusted sealer whose chain no longer verifies (changed after sealing): 550', async () => {
    const signed = await signIfConfigured(Buffer.from(message('reject.test')), [author]);
    const sealed = await viaList(signed.message, list);
    const r = await send(Buffer.from(sealed.toString().replace('mailing list', 'mailing lust')), { sender: 'bank-announce-bounces@lists.test' });
    expect(r.reply).toBe('550 5.7.1 Rejected by DMARC policy for reject.test (p=reject)');
  });
});
