// Draft adoption: a message spooled to tmp/ while it arrived becomes its queue file in place, without a copy.
// Trusts the draft's file only as far as its length checks out; the body is hashed as read back from disk.
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, link, open } from 'node:fs/promises';
import type { SpooledMessage } from '../draft.ts';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { type Envelope, MAGIC, trailerBytes } from '../record.ts';
import type { SpoolContext } from './context.ts';
import type { FreshFile } from './fresh.ts';

export const CRLF = Buffer.from('\r\n');

/** Messages up to this size stay in memory from adoption to their first claim (fresh.ts). */
const FRESH_MAX_MESSAGE = 1024 * 1024;

export const bufferOf = (b: Buffer | Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** pread(2) as FileHandle.read does it: may return fewer bytes than asked. */
export type ReadAt = (buf: Buffer, at: number, length: number, position: number) => Promise<{ bytesRead: number }>;

/**
 * Reads the file's bytes [from, to) into `hash`, however short each read. `keep`: into one buffer the size of the
 * range, each read at its own place in it, and returns that buffer (only when the pieces add up to exactly the
 * range); otherwise through one 256 KiB buffer reused for every read (hashing is synchronous) and returns undefined.
 */
export async function readBack(read: ReadAt, from: number, to: number, hash: Hash, keep: boolean): Promise<Buffer | undefined> {
  const buf = Buffer.allocUnsafe(keep ? Math.max(1, to - from) : Math.min(256 * 1024, Math.max(1, to - from)));
  let got = 0;
  for (let pos = from; pos < to; ) {
    const at = keep ? pos - from : 0;
    const { bytesRead } = await read(buf, at, Math.min(buf.length - at, to - pos), pos);
    if (bytesRead === 0) throw new QueueError(QueueErrorCodes.EINVAL, 'spooled message shorter than announced');
    hash.update(buf.subarray(at, at + bytesRead));
    pos += bytesRead;
    got += bytesRead;
  }
  return keep && got === to - from ? buf.subarray(0, to - from) : undefined;
}

async function writeAt(fh: FileHandle, b: Buffer, at: number): Promise<void> {
  for (let off = 0; off < b.length; ) {
    const { bytesWritten } = await fh.write(b, off, b.length - off, at + off);
    off += bytesWritten;
  }
}

/**
 * The draft itself becomes the queue file, without copying the message: its first lines (magic line,
 * envelope JSON padded with spaces, prepended headers, the rewritten header block) are written into the room
 * the draft left before the message, ending exactly where the body starts; the END record is appended; the
 * file is fsync'ed and only then linked into incoming/, which is fsync'ed before enqueue resolves. That is
 * the order every enqueue keeps (complete and durable before it has a name outside tmp/; named durably
 * before the 250). The draft's tmp/ name stays until the gateway discards it; a crash leaves only that name,
 * which the start-up sweep removes (the queue file keeps its own name). Nothing writes into a queue file's
 * inode once it is in incoming/ (updates write a new file and rename it over), so later routes copy the body
 * from the same inode safely. Returns false, having changed nothing, when the draft has no room, is
 * adopted already (one draft becomes at most one queue file), or the first lines do not fit.
 * `adopting`: drafts being adopted by an enqueue now (a second enqueue of the same draft copies instead).
 */
export async function adopt(
  ctx: SpoolContext,
  adopting: Set<string>,
  m: SpooledMessage,
  envelope: Envelope,
  prepend: string[],
  id: string,
  into: 'incoming' | 'hold',
): Promise<boolean> {
  const { p, syncDir, doSync, maxSize, fresh } = ctx;
  const offset = m.offset ?? 0;
  if (offset === 0 || adopting.has(m.file)) return false;
  const head = bufferOf(m.head);
  const pre = Buffer.concat(prepend.map((h) => Buffer.concat([Buffer.from(h, 'utf8'), CRLF])));
  const json = Buffer.from(JSON.stringify(envelope), 'utf8');
  // `MOATQ1 <n>\n` + n bytes of JSON and spaces + `\n` + prepend + head must end where the body starts
  const room = offset + m.skip - pre.length - head.length - 1;
  let first: Buffer | undefined;
  for (let digits = 1; digits <= 9 && !first; digits++) {
    const envLen = room - (MAGIC.length + 2 + digits);
    if (envLen >= json.length && String(envLen).length === digits) {
      first = Buffer.concat([Buffer.from(`${MAGIC} ${envLen}\n`, 'ascii'), json, Buffer.alloc(envLen - json.length, 0x20), Buffer.from('\n')]);
    }
  }
  if (!first) return false;
  const msgLen = pre.length + head.length + (m.size - m.skip);
  if (msgLen > maxSize) throw new QueueError(QueueErrorCodes.EINVAL, 'message too large');
  adopting.add(m.file);
  let remember: FreshFile | undefined;
  try {
    const fh = await open(m.file, 'r+');
    try {
      const st = await fh.stat();
      if (st.size !== offset + m.size) return false; // adopted by an earlier route (END appended), or not whole
      const hash = createHash('sha256').update(first.subarray(first.indexOf(0x0a) + 1, first.length - 1)).update(pre).update(head);
      // a message small enough to be remembered is read back into one buffer of its size (fresh.ts)
      const keep = into === 'incoming' && msgLen <= FRESH_MAX_MESSAGE;
      const body = await readBack((b, at, len, pos) => fh.read(b, at, len, pos), offset + m.skip, offset + m.size, hash, keep);
      await writeAt(fh, Buffer.concat([first, pre, head]), 0);
      await writeAt(fh, trailerBytes(msgLen, hash.digest('hex')), offset + m.size);
      if (doSync) await fh.sync();
      if (body) {
        const done = await fh.stat();
        const message = Buffer.concat([pre, head, body]);
        remember = { json: json.toString('utf8'), message, dev: done.dev, ino: done.ino, size: done.size, mtimeMs: done.mtimeMs, birthtimeMs: done.birthtimeMs };
      }
    } finally {
      await fh.close();
    }
    await link(m.file, p(into, id));
    await syncDir(p(into));
    // remembered only once the file is in incoming/ durably: the runner's claim takes the message from here
    if (remember) fresh.put(id, remember);
    return true;
  } finally {
    adopting.delete(m.file);
  }
}
