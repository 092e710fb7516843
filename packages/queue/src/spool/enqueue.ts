// The spool's write path: a new message checked, written to tmp/, fsync'ed, renamed into incoming/ (or hold/),
// the directory fsync'ed, and only then acknowledged. Message bytes are untrusted and stored as received.
import { createHash, type Hash } from 'node:crypto';
import { infoLine } from '@moat/observe';
import { open, rename, statfs, unlink } from 'node:fs/promises';
import { isSpooled, type SpooledMessage, spooledLength } from '../draft.ts';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { newQueueId } from '../ids.ts';
import { type Envelope, headerBytes, recipientRecords, trailerBytes } from '../record.ts';
import { tmpName } from '../tmp-files.ts';
import type { EnqueueInput, QueueHold, QueuedMessage } from '../types.ts';
import { adopt, bufferOf, CRLF } from './adopt.ts';
import type { SpoolContext } from './context.ts';

function checkAddress(a: string, what: string): void {
  if (typeof a !== 'string' || /[\r\n\0<> ]/.test(a) || a.length > 512) {
    throw new QueueError(QueueErrorCodes.EINVAL, `bad ${what} address`);
  }
}

/** A caller's hold as stored: check and reason as printable text of bounded length, a finite score or none. */
function holdRecord(h: QueueHold): QueueHold & { score?: number } {
  if (typeof h !== 'object' || h === null || typeof h.check !== 'string' || typeof h.reason !== 'string') {
    throw new QueueError(QueueErrorCodes.EINVAL, 'hold needs a check and a reason');
  }
  const text = (s: string, max: number) => s.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, max);
  const check = text(h.check, 64) || 'unknown';
  return { check, reason: text(h.reason, 500), ...(typeof h.score === 'number' && Number.isFinite(h.score) ? { score: h.score } : {}) };
}

/**
 * A spooled message into the queue file being written: its head, then its file from `skip` on, read in
 * 256 KiB pieces (memory does not grow with the message). The file must still have the length it had when
 * handed over: a draft cut short (disk full, a bug) must not become a shorter message that looks whole.
 */
async function copySpooled(m: SpooledMessage, body: (b: Buffer) => Promise<void>): Promise<void> {
  const head = bufferOf(m.head);
  if (head.length > 0) await body(head);
  const offset = m.offset ?? 0;
  const rh = await open(m.file, 'r');
  try {
    // an adopted draft (an earlier route's queue file) is longer by its END record: its body is unchanged
    const st = await rh.stat();
    if (st.size < offset + m.size) throw new QueueError(QueueErrorCodes.EINVAL, `spooled message is ${st.size - offset} bytes, expected ${m.size}`);
    for (let pos = m.skip; pos < m.size; ) {
      const buf = Buffer.allocUnsafe(Math.min(256 * 1024, m.size - pos));
      const { bytesRead } = await rh.read(buf, 0, buf.length, offset + pos);
      if (bytesRead === 0) throw new QueueError(QueueErrorCodes.EINVAL, 'spooled message shorter than announced');
      pos += bytesRead;
      await body(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await rh.close();
  }
}

/**
 * The queue file's bytes into `tmpPath` (head, prepended headers, message, END record with size and
 * checksum), then fsync'ed; on any failure the file is removed.
 */
async function writeTmp(ctx: SpoolContext, tmpPath: string, head: Buffer, hash: Hash, input: EnqueueInput, spooled: SpooledMessage | undefined): Promise<void> {
  const { maxSize, doSync } = ctx;
  const fh = await open(tmpPath, 'wx', 0o600);
  let ok = false;
  try {
    let size = 0;
    let pos = 0;
    // Small pieces are gathered and written together: one write for a typical message.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const writeAll = async (b: Buffer) => {
      let off = 0;
      while (off < b.length) {
        const { bytesWritten } = await fh.write(b, off, b.length - off, pos);
        off += bytesWritten;
        pos += bytesWritten;
      }
    };
    const flush = async () => {
      if (pendingBytes === 0) return;
      const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      await writeAll(b);
    };
    const write = async (b: Buffer) => {
      if (b.length >= 64 * 1024) {
        // large pieces go straight out (no copy)
        await flush();
        await writeAll(b);
        return;
      }
      pending.push(b);
      pendingBytes += b.length;
      if (pendingBytes >= 256 * 1024) await flush();
    };
    const body = async (b: Buffer) => {
      size += b.length;
      if (size > maxSize) throw new QueueError(QueueErrorCodes.EINVAL, 'message too large');
      hash.update(b);
      await write(b);
    };
    await write(head);
    for (const h of input.prepend ?? []) await body(Buffer.concat([Buffer.from(h, 'utf8'), CRLF]));
    if (Buffer.isBuffer(input.message)) await body(input.message);
    else if (spooled) await copySpooled(spooled, body);
    else for await (const chunk of input.message as AsyncIterable<Buffer>) await body(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    await write(trailerBytes(size, hash.digest('hex')));
    await flush();
    if (doSync) await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmpPath).catch(() => undefined);
  }
}

export interface EnqueueState {
  /** False once the queue is closed. */
  isOpen(): boolean;
  /** Told each queued (not held) id. */
  listeners: Set<(id: string) => void>;
  /** Drafts being adopted by an enqueue now. */
  adopting: Set<string>;
}

/** The queue's enqueue: checks, the envelope, then adoption of a draft or a new file; resolves once durable. */
export function createEnqueue(ctx: SpoolContext, state: EnqueueState) {
  const { dir, clock, logger, metrics, maxSize, node, p, syncDir } = ctx;
  return async function enqueue(input: EnqueueInput, internal?: { kind: Envelope['kind'] }): Promise<QueuedMessage> {
    if (!state.isOpen()) throw new QueueError(QueueErrorCodes.ECLOSED, 'queue is closed');
    if (!Array.isArray(input.recipients) || input.recipients.length === 0) {
      throw new QueueError(QueueErrorCodes.EINVAL, 'no recipients');
    }
    checkAddress(input.sender, 'sender');
    for (const r of input.recipients) checkAddress(r, 'recipient');
    for (const h of input.prepend ?? []) {
      if (/[\r\n\0]/.test(h)) throw new QueueError(QueueErrorCodes.EINVAL, 'prepended header contains CR, LF or NUL');
    }
    const hold = input.hold && !internal ? holdRecord(input.hold) : undefined;
    if (ctx.minFreeBytes && !internal) {
      const fs = await statfs(dir);
      if (fs.bavail * fs.bsize < ctx.minFreeBytes) {
        logger.error({ free: fs.bavail * fs.bsize, minFree: ctx.minFreeBytes }, 'spool disk nearly full: refusing new mail');
        throw new QueueError(QueueErrorCodes.ENOSPACE, 'insufficient system storage');
      }
    }
    const now = clock.now();
    const id = newQueueId(now);
    const { v, recipients } = recipientRecords(input);
    const envelope: Envelope = {
      v,
      id,
      sender: input.sender,
      recipients,
      route: input.route ?? 'local',
      meta: input.meta ?? {},
      arrival: now,
      attempts: 0,
      kind: internal?.kind ?? 'mail',
      ...(hold ? { hold: { ...hold, time: now, node } } : {}),
    };
    // a quarantined message is written exactly as any other, only into hold/ (Postfix's HOLD action)
    const into: 'incoming' | 'hold' = hold ? 'hold' : 'incoming';
    const done = (adopted: boolean): QueuedMessage => {
      metrics.enqueued.inc();
      const facts = { queueId: id, sender: input.sender, nrcpt: input.recipients.length, route: envelope.route, ...(adopted ? { adopted } : {}) };
      if (hold) {
        metrics.quarantined.inc({ check: hold.check });
        logger.info({ ...facts, event: 'quarantined', check: hold.check, reason: hold.reason, score: hold.score }, 'quarantined (hold/)');
      } else {
        infoLine(logger, facts, 'queued');
        for (const l of state.listeners) l(id);
      }
      return { id };
    };
    const spooled = isSpooled(input.message) ? input.message : undefined;
    if (spooled) {
      if (!spooled.file.startsWith(`${p('tmp')}/`) || spooled.skip < 0 || spooled.skip > spooled.size) {
        throw new QueueError(QueueErrorCodes.EINVAL, 'spooled message outside this spool');
      }
      if (spooledLength(spooled) > maxSize) throw new QueueError(QueueErrorCodes.EINVAL, 'message too large');
    }
    if (spooled && (await adopt(ctx, state.adopting, spooled, envelope, input.prepend ?? [], id, into))) return done(true);
    const head = headerBytes(envelope);
    // The checksum covers the envelope JSON (between the magic line and its newline) and the message.
    const hash = createHash('sha256').update(head.subarray(head.indexOf(0x0a) + 1, head.length - 1));
    const tmpPath = p('tmp', tmpName(id));
    await writeTmp(ctx, tmpPath, head, hash, input, spooled);
    await rename(tmpPath, p(into, id));
    await syncDir(p(into));
    return done(false);
  };
}
