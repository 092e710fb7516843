// SMTP sessions as the tests need them: speak as any client address and HELO through XCLIENT (allowed
// only from the test network), and find delivered messages in the mx container's maildir.
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpClient, type SmtpReply } from '@moat/testkit';
import { expect } from 'vitest';
import { execIn, freshSender, stack } from './stack.ts';

/** How long the suite waits for the stack's replies (and a connection). */
export const REPLY_TIMEOUT_MS = 30_000;

/** Connects to the MX port and becomes `addr` (XCLIENT), then says EHLO `helo` unless helo is null. */
export async function clientAs(addr: string, helo: string | null = 'mail.sender.example', port = stack().smtpPort): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port, { timeoutMs: REPLY_TIMEOUT_MS });
  expect((await c.read()).code, c.transcript.join('\n')).toBe(220);
  const ehlo = await c.cmd('EHLO e2e.moat.test');
  expect(ehlo.code).toBe(250);
  expect(ehlo.text).toMatch(/XCLIENT/);
  const x = await c.cmd(`XCLIENT ADDR=${addr} NAME=[UNAVAILABLE]`);
  expect(x.code, c.transcript.join('\n')).toBe(220);
  if (helo !== null) {
    const r = await c.cmd(`EHLO ${helo}`);
    expect(r.code, c.transcript.join('\n')).toBe(250);
  }
  return c;
}

export interface Transaction {
  mail: SmtpReply;
  rcpt?: SmtpReply;
  data?: SmtpReply;
  id: string;
}

/** MAIL, RCPT and (when RCPT passed) DATA with a small message; stops at the first refusal. */
export async function transact(
  c: SmtpClient,
  { from = freshSender(), to = `alice@${stack().domain}`, body = 'Hello from the moat integration suite.\r\nRegards,\r\nE2E', subject = 'e2e' } = {},
): Promise<Transaction> {
  const id = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`;
  const mail = await c.cmd(`MAIL FROM:<${from}>`);
  if (mail.code !== 250) return { mail, id };
  const rcpt = await c.cmd(`RCPT TO:<${to}>`);
  if (rcpt.code !== 250) {
    await c.cmd('RSET');
    return { mail, rcpt, id };
  }
  const data = await c.data(message({ from, to, subject, body, id }));
  return { mail, rcpt, data, id };
}

/** A small RFC 5322 message with a unique Message-ID the test can find again in the maildir. */
export function message({ from, to, subject, body, id }: { from: string; to: string; subject: string; body: string; id: string }): string {
  return [
    `From: <${from}>`,
    `To: <${to}>`,
    `Subject: ${subject}`,
    `Message-ID: <${id}@e2e.moat.test>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    body,
    '',
  ].join('\r\n');
}

/** Where the mx image delivers mail (queue.transport in config-test/moat.yaml and compose/remote/moat.remote.yaml). */
export const MAILDIR = '/var/lib/moat/maildir';

/** Files under `dir` in a service's container that hold the message with this id (any maildir, any folder). */
export async function filesWith(id: string, { service = 'mx', dir = MAILDIR }: { service?: string; dir?: string } = {}): Promise<string[]> {
  const out = await execIn(service, 'sh', '-c', `grep -rl -F 'Message-ID: <${id}@' ${dir} 2>/dev/null || true`);
  return out.split('\n').filter(Boolean).sort();
}

/**
 * Waits until `count` copies of the message with this id are in the service's maildirs (one a recipient);
 * returns their paths.
 */
export async function deliveredFiles(id: string, { service = 'mx', dir = MAILDIR, count = 1, timeoutMs = 60_000 } = {}): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = await filesWith(id, { service, dir }).catch(() => []);
    if (files.length >= count) return files;
    if (Date.now() > deadline) throw new Error(`message ${id}: ${files.length} of ${count} copies in ${service}:${dir} after ${timeoutMs} ms`);
    await sleep(500);
  }
}

/** Waits until the message with this id is in a maildir new/ directory; returns its text. */
export async function delivered(id: string, timeoutMs = 60_000, service = 'mx'): Promise<string> {
  const [file] = await deliveredFiles(id, { service, timeoutMs });
  return execIn(service, 'cat', file!);
}

/** The header block of a message (unfolded lines). */
export function headers(text: string): string {
  const end = text.search(/\r?\n\r?\n/);
  return (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
}
