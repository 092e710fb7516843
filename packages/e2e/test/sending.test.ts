// Who may send what (#16) through the running stack: sender logins (policy.sender_login_maps with
// reject_sender_login_mismatch, checked on port 25 after AUTH) and outbound DKIM: the key moat.test signs with
// is generated into compose/secrets-test/dkim (scripts/stack.mjs ensureTestDkim), its TXT record served by the
// test Unbound; mailauth verifies what the remote MX received against the record fetched from that Unbound.
import { authPlain, SmtpClient } from '@moat/testkit';
import { dkimVerify } from 'mailauth';
import { afterEach, describe, expect, it } from 'vitest';
import { clientAs, deliveredFiles, headers, REPLY_TIMEOUT_MS, transact } from './session.ts';
import { execIn, freshClientIp, stack } from './stack.ts';

let open: SmtpClient[] = [];
const track = (c: SmtpClient) => {
  open.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(open.map((c) => c.quit()));
  open = [];
});

/** An AUTH session after STARTTLS, as Postfix wants it: on the MX port (25) or on submission (587). */
async function loggedIn(port: 'smtp' | 'submission' = 'smtp'): Promise<SmtpClient> {
  const { smtpPort, submissionPort, user, password } = stack();
  const c = track(await SmtpClient.connect(port === 'smtp' ? smtpPort : submissionPort, { timeoutMs: REPLY_TIMEOUT_MS }));
  expect((await c.read()).code).toBe(220);
  expect((await c.cmd('EHLO laptop.sender.example')).code).toBe(250);
  await c.starttls({ servername: 'mx.moat.test' });
  expect((await c.cmd('EHLO laptop.sender.example')).code).toBe(250);
  expect((await c.cmd(`AUTH PLAIN ${authPlain(user, password)}`)).code, c.transcript.join('\n')).toBe(235);
  return c;
}

/** The TXT strings of a name as the test Unbound serves them (drill inside its container), mailauth's resolver shape. */
async function txtFromUnbound(name: string, type: string): Promise<string[][]> {
  if (type !== 'TXT') throw Object.assign(new Error(`${type} not served here`), { code: 'ENOTFOUND' });
  const out = await execIn('unbound', 'drill', '-Q', '@127.0.0.1', name, 'TXT');
  const records = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => [...l.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
  if (records.length === 0) throw Object.assign(new Error(`no TXT for ${name}`), { code: 'ENOTFOUND' });
  return records;
}

/** The message as the remote MX stored it, minus the two lines its maildir delivery put on top. */
async function receivedAtRemote(id: string): Promise<string> {
  const [file] = await deliveredFiles(id, { service: 'remote' });
  return (await execIn('remote', 'cat', file!)).replace(/^Return-Path: .*\r?\nDelivered-To: .*\r?\n/, '');
}

/** mailauth's DKIM verdicts for a message, keys fetched from the test Unbound. */
async function dkimResults(message: string): Promise<Array<[string | undefined, string | undefined]>> {
  const v = await dkimVerify(Buffer.from(message), { resolver: txtFromUnbound });
  return v.results.map((r) => [r.signingDomain, r.status?.result]);
}

describe('who may send what', () => {
  // each listener's own sender-login check (mx.sender_login) answers at MAIL FROM (docs/design.md)
  for (const port of ['smtp', 'submission'] as const) {
    it(`an authenticated user cannot send as an address another login owns on ${port} (553 5.7.1, in Postfix words)`, async () => {
      const c = await loggedIn(port);
      const t = await transact(c, { from: 'bob@moat.test', to: 'someone@remote.moat.test' });
      expect(t.mail.code, c.transcript.join('\n')).toBe(553);
      expect(t.mail.text).toBe(`5.7.1 <bob@moat.test>: Sender address rejected: not owned by user ${stack().user}`);
      expect(t.data).toBeUndefined();
    });
  }

  it('a client that is not logged in cannot use an owned address (553 5.7.1 not logged in)', async () => {
    const c = track(await clientAs(freshClientIp()));
    const t = await transact(c, { from: 'alice@moat.test', to: 'bob@moat.test' });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(553);
    expect(t.rcpt?.text).toBe('5.7.1 <alice@moat.test>: Sender address rejected: not logged in');
  });

  it('the user sends as herself to someone@remote.moat.test: delivered there with a DKIM signature that verifies against the TXT record in the test Unbound', async () => {
    const c = await loggedIn();
    const from = `${stack().user}@moat.test`;
    const t = await transact(c, { from, to: 'someone@remote.moat.test', subject: 'sending: signed' });
    expect(t.rcpt?.code, c.transcript.join('\n')).toBe(250);
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    const message = await receivedAtRemote(t.id);
    const h = headers(message);
    expect(h).toMatch(/^DKIM-Signature: .*\bd=moat\.test;.*\bs=default;/im);
    expect(await dkimResults(message)).toEqual([['moat.test', 'pass']]);
    // the remote MX checked it through the same Unbound when it accepted it
    expect(h).toMatch(/^Authentication-Results: mx\.remote\.moat\.test;.*\bdkim=pass header\.i=@moat\.test header\.s=default\b/im);
  });

  it('on submission (587) the user sends as herself: relayed to the remote MX and signed', async () => {
    const c = await loggedIn('submission');
    const t = await transact(c, { from: `${stack().user}@moat.test`, to: 'someone@remote.moat.test', subject: 'sending: submission' });
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    expect(await dkimResults(await receivedAtRemote(t.id))).toEqual([['moat.test', 'pass']]);
  });

  it("a mynetworks host's outbound mail is signed too", async () => {
    const c = track(await clientAs('203.0.113.22'));
    const t = await transact(c, { from: 'alice@moat.test', to: 'someone@remote.moat.test', subject: 'sending: from mynetworks' });
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    const message = await receivedAtRemote(t.id);
    expect(await dkimResults(message)).toEqual([['moat.test', 'pass']]);
  });

  it('a signature is bound to the message: a changed body no longer verifies', async () => {
    const c = track(await clientAs('203.0.113.23'));
    const t = await transact(c, { from: 'alice@moat.test', to: 'someone@remote.moat.test', subject: 'sending: tampered' });
    expect(t.data?.code, c.transcript.join('\n')).toBe(250);
    const message = await receivedAtRemote(t.id);
    const v = await dkimVerify(Buffer.from(message.replace('Hello from the moat integration suite.', 'Hello from somebody else.')), { resolver: txtFromUnbound });
    // RFC 6376 6.1.3: a PERMFAIL; mailauth's lenient mode reports it as neutral, with this comment
    expect(v.results.map((r) => [r.signingDomain, r.status?.result, r.status?.comment])).toEqual([['moat.test', 'neutral', 'body hash did not verify']]);
  });
});
