// The on-disk queue file: a header line, the envelope as JSON, the message bytes, and an END record.
// Trusts nothing it reads back: a file without a valid END record (length + sha256) is corrupt.
import { createHash } from 'node:crypto';
import type { AddressClass, NextHop } from '@moat/address';
import type { EnqueueInput } from './types.ts';

/**
 * Layout (all ASCII except the message bytes):
 *
 *   MOATQ1 <envelope length>\n
 *   <envelope JSON>\n
 *   <message bytes>
 *   \nEND <message length> <sha256 hex over envelope JSON + message>\n
 *
 * The END record is written last and fsync'ed with the rest; a reader that does not find it, or finds
 * lengths or a checksum that do not add up, must treat the file as damaged (Postfix's REC_TYPE_END).
 */
export const MAGIC = 'MOATQ1';

export type RecipientState = 'pending' | 'sent' | 'bounced';

export interface RecipientRecord {
  address: string;
  state: RecipientState;
  /** Last reply or error for this recipient (untrusted text from the next hop). */
  lastError?: string;
  /** The host that answered last, for DSNs and mailq. */
  relay?: string;
  /** Last SMTP code and enhanced status seen for this recipient. */
  code?: number;
  status?: string;
  /**
   * Envelope v2: where this recipient goes (the address resolver's answer at RCPT). Absent (v1 files,
   * or a v2 file written without a resolver): the envelope's `route` picks the legacy transport.
   */
  nextHop?: NextHop;
  /** Envelope v2: the resolver's address class (remote mail is DKIM-signed on its way out). */
  class?: AddressClass;
  /** Envelope v2: the recipient_delimiter extension of `address` (`tag` of `user+tag@d`). */
  extension?: string;
  /** Envelope v2: the address the client gave at RCPT, when an alias or rewrite changed it. */
  original?: string;
}

/**
 * Versions: 1 (route only) and 2 (per-recipient next hops). Both are read; a file is written as v2 only
 * when a recipient carries a next hop, so a v1 reader (an older moat) still reads what it can deliver.
 */
export interface Envelope {
  v: 1 | 2;
  id: string;
  sender: string;
  recipients: RecipientRecord[];
  route: 'local' | 'relay';
  meta: Record<string, string>;
  /** Arrival time (ms since epoch, from the queue's clock). */
  arrival: number;
  /** Delivery attempts so far. */
  attempts: number;
  /** Next retry time (ms), mirrored in the deferred file's mtime. */
  nextRetry?: number;
  /** Last delivery error (any recipient), for mailq. */
  lastError?: string;
  /** A delay-warning DSN went out already. */
  warned?: boolean;
  /** What kind of message: a DSN we generated is never bounced or warned about. */
  kind?: 'mail' | 'bounce' | 'delay';
  /** Quarantined: why, when (ms) and on which node it was put in hold/ (kept after a release, for the record). */
  hold?: HoldRecord;
  /** Released from the quarantine: by whom and when; the queue lifetime counts from here, not from arrival. */
  released?: { by: string; time: number };
}

export interface HoldRecord {
  check: string;
  reason: string;
  score?: number;
  time: number;
  node: string;
}

/**
 * The recipient records of a new envelope and its version: v2 when any recipient carries a next hop
 * (EnqueueInput.nextHop / recipientInfo), else v1 exactly as before.
 */
export function recipientRecords(input: Pick<EnqueueInput, 'recipients' | 'nextHop' | 'recipientInfo'>): { v: 1 | 2; recipients: RecipientRecord[] } {
  let v: 1 | 2 = 1;
  const recipients = input.recipients.map((address): RecipientRecord => {
    const info = input.recipientInfo?.get(address);
    const nextHop = info?.nextHop ?? input.nextHop;
    if (!nextHop) return { address, state: 'pending' };
    v = 2;
    return {
      address,
      state: 'pending',
      nextHop,
      ...(info?.class ? { class: info.class } : {}),
      ...(info?.extension ? { extension: info.extension } : {}),
      ...(info?.original && info.original !== address ? { original: info.original } : {}),
    };
  });
  return { v, recipients };
}

export class CorruptQueueFile extends Error {
  readonly code = 'EQUEUE_CORRUPT';
}

export function headerBytes(env: Envelope): Buffer {
  const json = Buffer.from(JSON.stringify(env), 'utf8');
  return Buffer.concat([Buffer.from(`${MAGIC} ${json.length}\n`, 'ascii'), json, Buffer.from('\n')]);
}

export function trailerBytes(messageLength: number, sha256hex: string): Buffer {
  return Buffer.from(`\nEND ${messageLength} ${sha256hex}\n`, 'ascii');
}

/** Build a whole file in memory (rewrites after a delivery attempt). */
export function encode(env: Envelope, message: Buffer): Buffer {
  const head = headerBytes(env);
  const json = head.subarray(head.indexOf(0x0a) + 1, head.length - 1);
  const hash = createHash('sha256').update(json).update(message).digest('hex');
  return Buffer.concat([head, message, trailerBytes(message.length, hash)]);
}

/** Parse and verify a whole file. Throws CorruptQueueFile on anything that does not add up. */
export function decode(buf: Buffer): { envelope: Envelope; message: Buffer } {
  const nl = buf.indexOf(0x0a);
  if (nl < 0 || nl > 64) throw new CorruptQueueFile('no header line');
  const first = buf.subarray(0, nl).toString('ascii');
  const m = /^MOATQ1 (\d{1,9})$/.exec(first);
  if (!m) throw new CorruptQueueFile('bad magic');
  const envLen = Number(m[1]);
  const envStart = nl + 1;
  const envEnd = envStart + envLen;
  if (envEnd + 1 > buf.length || buf[envEnd] !== 0x0a) throw new CorruptQueueFile('truncated envelope');
  // The END record: the last line of the file.
  if (buf.length < 2 || buf[buf.length - 1] !== 0x0a) throw new CorruptQueueFile('no END record');
  const endStart = buf.lastIndexOf(0x0a, buf.length - 2);
  if (endStart < envEnd) throw new CorruptQueueFile('no END record');
  const end = /^END (\d{1,12}) ([0-9a-f]{64})$/.exec(buf.subarray(endStart + 1, buf.length - 1).toString('ascii'));
  if (!end) throw new CorruptQueueFile('bad END record');
  const msgLen = Number(end[1]);
  const msgStart = envEnd + 1;
  if (msgStart + msgLen !== endStart) throw new CorruptQueueFile('length mismatch');
  const json = buf.subarray(envStart, envEnd);
  const message = buf.subarray(msgStart, endStart);
  const hash = createHash('sha256').update(json).update(message).digest('hex');
  if (hash !== end[2]) throw new CorruptQueueFile('checksum mismatch');
  let envelope: Envelope;
  try {
    envelope = JSON.parse(json.toString('utf8')) as Envelope;
  } catch {
    throw new CorruptQueueFile('envelope is not JSON');
  }
  if (!isEnvelope(envelope)) throw new CorruptQueueFile('envelope fields missing');
  return { envelope, message };
}

function isEnvelope(e: unknown): e is Envelope {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    (o.v === 1 || o.v === 2) &&
    typeof o.id === 'string' &&
    typeof o.sender === 'string' &&
    Array.isArray(o.recipients) &&
    o.recipients.length > 0 &&
    o.recipients.every((r) => typeof r === 'object' && r !== null && typeof (r as RecipientRecord).address === 'string') &&
    typeof o.arrival === 'number' &&
    typeof o.attempts === 'number'
  );
}
