// The seed's decision list end to end through the published MX port: each step's reply, then greylisting,
// SpamAssassin at SMTP time and delivery to the maildir with X-Spam and X-Greylist headers.
import { setTimeout as sleep } from 'node:timers/promises';
import { authPlain, GTUBE, SmtpClient } from '@moat/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { clientAs, delivered, headers, REPLY_TIMEOUT_MS, transact } from './session.ts';
import { freshClientIp, freshSender, stack } from './stack.ts';


/** Greylist delay in compose/config-test/moat.yaml, plus a margin. */
const GREYLIST_WAIT_MS = 5_000 + 1_500;

let open: SmtpClient[] = [];
const track = (c: SmtpClient) => {
  open.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(open.map((c) => c.quit()));
  open = [];
});

describe('the seed list, step by step', () => {
  it('1. rejects a client that does not say HELO', async () => {
    const c = track(await clientAs(freshClientIp(), null));
    const r = await c.cmd(`MAIL FROM:<${freshSender()}>`);
    expect(r.code).toBe(503);
    expect(r.text).toMatch(/HELO|EHLO/);
  });

  it('2. rejects an invalid HELO hostname', async () => {
    for (const helo of ['not_a_host!', 'localhost']) {
      const c = track(await clientAs(freshClientIp(), helo));
      const t = await transact(c);
      const refusal = t.mail.code === 250 ? t.rcpt : t.mail;
      expect(refusal?.code, `${helo}: ${c.transcript.join('\n')}`).toBeGreaterThanOrEqual(500);
      expect(refusal?.text).toMatch(/hel[o]|host ?name/i);
    }
  });

  it('3. rejects a sender that is not <user@domain.tld>', async () => {
    const c = track(await clientAs(freshClientIp()));
    const t = await transact(c, { from: 'nodomain' });
    const refusal = t.mail.code === 250 ? t.rcpt : t.mail;
    expect(refusal?.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
  });

  it('4. rejects an unknown recipient', async () => {
    const c = track(await clientAs(freshClientIp()));
    const t = await transact(c, { to: `nobody-here@${stack().domain}` });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(550);
    expect(t.rcpt?.text).toMatch(/5\.1\.1/);
  });

  it('5. allows a client from the trusted networks, even to relay', async () => {
    const c = track(await clientAs('203.0.113.7'));
    const local = await transact(c);
    expect(local.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(local.data?.code).toBe(250);
    const relay = await transact(c, { to: 'someone@elsewhere.example' });
    expect(relay.rcpt?.code, c.transcript.join('\n')).toBe(250);
  });

  it('5b. refuses to relay for a stranger', async () => {
    const c = track(await clientAs(freshClientIp()));
    const t = await transact(c, { to: 'someone@elsewhere.example' });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
    expect(t.rcpt?.text).toMatch(/relay/i);
  });

  it('6. AUTH is refused before STARTTLS and lets the user relay after it', async () => {
    // on the MX port, as the seed's Postfix does (smtpd_tls_auth_only); the client is not in mynetworks
    const { smtpPort, user, password } = stack();
    const c = track(await SmtpClient.connect(smtpPort, { timeoutMs: REPLY_TIMEOUT_MS }));
    await c.read();
    const ehlo = await c.cmd('EHLO laptop.sender.example');
    expect(ehlo.code).toBe(250);
    expect(ehlo.text).toMatch(/STARTTLS/);
    expect(ehlo.text).not.toMatch(/^AUTH/m);
    const early = await c.cmd(`AUTH PLAIN ${authPlain(user, password)}`);
    expect(early.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
    const secure = await c.starttls({ servername: 'mx.moat.test' });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    const ehlo2 = await c.cmd('EHLO laptop.sender.example');
    expect(ehlo2.text).toMatch(/AUTH.*PLAIN/);
    const bad = await c.cmd(`AUTH PLAIN ${authPlain(user, 'wrong-password')}`);
    expect(bad.code).toBe(535);
    const ok = await c.cmd(`AUTH PLAIN ${authPlain(user, password)}`);
    expect(ok.code, c.transcript.join('\n')).toBe(235);
    const t = await transact(c, { from: `${user}@${stack().domain}`, to: 'friend@elsewhere.example' });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(t.data?.code).toBe(250);
  });

  it('submission (587) offers STARTTLS, then AUTH, and refuses mail without AUTH', async () => {
    const { submissionPort, user, password } = stack();
    const c = track(await SmtpClient.connect(submissionPort, { timeoutMs: REPLY_TIMEOUT_MS }));
    expect((await c.read()).code).toBe(220);
    expect((await c.cmd('EHLO laptop.sender.example')).text).toMatch(/STARTTLS/);
    await c.starttls({ servername: 'mx.moat.test' });
    expect((await c.cmd('EHLO laptop.sender.example')).text).toMatch(/AUTH.*PLAIN/);
    const anon = await transact(c, { to: 'friend@elsewhere.example' });
    expect(anon.rcpt?.code ?? anon.mail.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
    expect((await c.cmd(`AUTH PLAIN ${authPlain(user, password)}`)).code).toBe(235);
    const t = await transact(c, { from: `${user}@${stack().domain}`, to: 'friend@elsewhere.example' });
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
  });

  it('7. a DNSWL client bypasses a blacklist it is also on', async () => {
    const c = track(await clientAs('192.0.2.77'));
    const t = await transact(c);
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(t.data?.code).toBe(250);
  });

  it("8. a blacklisted client is rejected with the list's TXT reason", async () => {
    const c = track(await clientAs('192.0.2.66'));
    const t = await transact(c);
    expect(t.rcpt?.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
    expect(t.rcpt?.text).toContain('bl.moat.test');
    expect(t.rcpt?.text).toContain('Blocked by bl.moat.test: 192.0.2.66 is a test spam source');
  });

  it('8b. an RHSBL-listed sender domain is rejected', async () => {
    const c = track(await clientAs(freshClientIp()));
    const t = await transact(c, { from: freshSender('spammer.example') });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBeGreaterThanOrEqual(500);
    expect(t.rcpt?.text).toContain('rhsbl.moat.test');
  });

  it('9. a client on the second whitelist skips greylisting', async () => {
    const c = track(await clientAs('192.0.2.99'));
    const t = await transact(c);
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(t.data?.code).toBe(250);
  });

  it('10. greylists a new triplet, then accepts the retry after the delay and delivers with headers', async () => {
    const ip = freshClientIp();
    const from = freshSender();
    const c1 = track(await clientAs(ip));
    const first = await transact(c1, { from });
    expect(first.rcpt?.code, c1.transcript.join('\n')).toBe(450);
    expect(first.rcpt?.text).toMatch(/4\.7\.1/);
    const early = await transact(c1, { from });
    expect(early.rcpt?.code, 'a retry before the delay is still deferred').toBe(450);
    await sleep(GREYLIST_WAIT_MS);
    const c2 = track(await clientAs(ip));
    const retry = await transact(c2, { from, subject: 'ham after greylisting' });
    expect(retry.rcpt?.code, c2.transcript.join('\n')).toBe(250);
    expect(retry.data?.code, c2.transcript.join('\n')).toBe(250);
    // 11. accepted: in the maildir, scanned by SpamAssassin and stamped by the greylist
    const h = headers(await delivered(retry.id));
    expect(h).toMatch(/^X-Greylist: /im);
    expect(h).toMatch(/^X-Spam-Status: No/im);
    expect(h).toMatch(/^Received: from /im);
  });

  it('rejects GTUBE at SMTP time through SpamAssassin (no backscatter)', async () => {
    const c = track(await clientAs('192.0.2.99'));
    const t = await transact(c, { body: `This is the GTUBE:\r\n${GTUBE}\r\n`, subject: 'gtube' });
    expect(t.rcpt?.code).toBe(250);
    expect(t.data?.code, c.transcript.join('\n')).toBe(550);
    expect(t.data?.text).toMatch(/5\.7\.1/);
  });

  it('delivers ham from a whitelisted client to the maildir with X-Spam headers', async () => {
    const c = track(await clientAs('192.0.2.99'));
    const t = await transact(c, { subject: 'plain ham' });
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    const h = headers(await delivered(t.id));
    expect(h).toMatch(/^X-Spam-Status: No/im);
    expect(h).toMatch(/^X-Spam-Score: /im);
  });
});
