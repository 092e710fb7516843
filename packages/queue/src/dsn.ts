// RFC 3464 delivery status notifications: bounces (Action: failed) and delay warnings (Action: delayed).
// The reported replies and the original message are untrusted; diagnostics are flattened to one ASCII line.
import { randomBytes } from 'node:crypto';
import type { Envelope, RecipientRecord } from './record.ts';

export interface DsnInput {
  kind: 'failed' | 'delayed';
  /** Our name in Reporting-MTA and the text. */
  hostname: string;
  /** The From: address of the report (MAILER-DAEMON@hostname by default). */
  bounceFrom: string;
  envelope: Envelope;
  message: Buffer;
  recipients: RecipientRecord[];
  now: number;
  /** For delayed: when we give up. */
  willRetryUntil?: number;
  /** Return the whole message up to this size, else headers only (Postfix bounce_size_limit: 50000). */
  returnLimit?: number;
  /** Fixed random part of the boundary and Message-ID (golden-file tests); random by default. */
  token?: string;
}

/** RFC 5322 date in UTC. */
export function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

function flat(s: string | undefined): string {
  return (s ?? '').replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 900);
}

function headerBlock(message: Buffer): Buffer {
  let end = message.indexOf('\r\n\r\n');
  if (end >= 0) return message.subarray(0, end + 2);
  end = message.indexOf('\n\n');
  return end >= 0 ? message.subarray(0, end + 1) : message;
}

function remoteMta(relay: string | undefined): string | null {
  if (!relay || relay.startsWith('maildir:')) return null;
  const host = /^([^[\s]+)\[/.exec(relay)?.[1] ?? relay.replace(/^(smtp|lmtp|relay):\/?\/?/, '');
  return flat(host) || null;
}

/** Build the DSN message (CRLF line ends). Its envelope sender must be the null sender. */
export function buildDsn(input: DsnInput): Buffer {
  const { envelope: env, hostname } = input;
  const token = input.token ?? randomBytes(6).toString('hex');
  const boundary = `${env.id}.${token}/${hostname}`;
  const failed = input.kind === 'failed';
  const whole = failed && input.message.length <= (input.returnLimit ?? 50_000);
  const attached = whole ? input.message : headerBlock(input.message);
  const eightBit = attached.some((b) => b > 0x7f);
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const lines: string[] = [
    `From: Mail Delivery System <${input.bounceFrom}>`,
    `To: <${env.sender}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <${env.id}.${input.kind}.${token}@${hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    `Content-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is the mail system at host ${hostname}.`,
    '',
  ];
  if (failed) {
    lines.push(
      "I'm sorry to have to inform you that your message could not",
      'be delivered to one or more recipients. It is attached below.',
    );
  } else {
    lines.push(
      '####################################################################',
      '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
      '####################################################################',
      '',
      'Your message could not be delivered yet. The mail system will keep',
      `trying until ${input.willRetryUntil ? rfc5322Date(input.willRetryUntil) : 'it gives up'}.`,
    );
  }
  lines.push('');
  for (const r of input.recipients) lines.push(`<${flat(r.address)}>: ${flat(r.lastError) || 'no reason recorded'}`);
  lines.push(
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${hostname}`,
    `X-Moat-Queue-ID: ${env.id}`,
    `X-Moat-Sender: rfc822; ${flat(env.sender)}`,
    `Arrival-Date: ${rfc5322Date(env.arrival)}`,
  );
  for (const r of input.recipients) {
    const status = r.status ?? (failed ? '5.0.0' : '4.0.0');
    // RFC 3464 2.3.1: the address the client gave, when an alias or rewrite changed it
    lines.push('', ...(r.original ? [`Original-Recipient: rfc822; ${flat(r.original)}`] : []), `Final-Recipient: rfc822; ${flat(r.address)}`, `Action: ${input.kind}`, `Status: ${status}`);
    const mta = remoteMta(r.relay);
    if (mta) lines.push(`Remote-MTA: dns; ${mta}`);
    if (r.lastError) lines.push(`Diagnostic-Code: ${r.code ? 'smtp' : 'x-moat'}; ${flat(r.lastError)}`);
    lines.push(`Last-Attempt-Date: ${rfc5322Date(input.now)}`);
    if (!failed && input.willRetryUntil) lines.push(`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`);
  }
  lines.push(
    '',
    `--${boundary}`,
    `Content-Description: ${failed ? 'Undelivered Message' : 'Delayed Message'}${whole ? '' : ' (Headers)'}`,
    `Content-Type: ${whole ? 'message/rfc822' : 'text/rfc822-headers'}`,
    '',
    '',
  );
  const tail = attached.length && attached[attached.length - 1] !== 0x0a ? '\r\n' : '';
  return Buffer.concat([
    Buffer.from(lines.join('\r\n'), 'utf8'),
    attached,
    Buffer.from(`${tail}\r\n--${boundary}--\r\n`, 'ascii'),
  ]);
}
