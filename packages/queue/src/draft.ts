// A message spooled as it arrives: the gateway appends DATA chunks to a file in the spool's tmp/, then hands
// the file to enqueue (a SpooledMessage) instead of holding the message in memory. Trusts the file system;
// the bytes are untrusted and stored as received.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writev } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpName } from './tmp-files.ts';

/**
 * A message whose bytes are in a file from `offset` on: `head` stands for its first `skip` bytes (the header
 * block, rewritten in memory), the rest is read from the file up to `size`. Plain data, so it crosses threads.
 */
export interface SpooledMessage {
  file: string;
  /** Message bytes as received (the file holds offset + size bytes); a file shorter than that is refused. */
  size: number;
  head: Buffer | Uint8Array;
  skip: number;
  /**
   * Where the message starts in the file: the space before it is left for the queue file's first lines, so
   * that enqueue can turn the draft itself into the queue file (no copy) when they fit. 0: no such space.
   */
  offset?: number;
}

/**
 * The room a draft leaves before the message: enough for the queue file's magic line, an envelope of a few
 * dozen recipients and the prepended headers, beyond the header block (which the rewritten one replaces). A
 * hole in the file: no disk is used for it unless it is written.
 */
export const DRAFT_RESERVE = 64 * 1024;

export function isSpooled(m: unknown): m is SpooledMessage {
  return typeof m === 'object' && m !== null && typeof (m as SpooledMessage).file === 'string' && typeof (m as SpooledMessage).skip === 'number';
}

/** The length of the message a SpooledMessage stands for. */
export function spooledLength(m: Pick<SpooledMessage, 'head' | 'size' | 'skip'>): number {
  return m.head.byteLength + m.size - m.skip;
}

export interface Draft {
  readonly path: string;
  /** Bytes handed to append so far. */
  readonly size: number;
  /** Bytes handed to append and not yet written: the caller pauses its source above a bound. */
  readonly backlog: number;
  /** The first write error, if any (later appends are dropped). */
  readonly error: Error | undefined;
  /** Appends in order; resolves when this chunk is written (rejects never: see `error`). */
  append(chunk: Buffer): Promise<void>;
  /** All appends written; throws the write error if there was one. */
  flushed(): Promise<void>;
  /** Bytes [start, end) of the message as received, in pieces of up to 256 KiB. */
  read(start?: number, end?: number): AsyncIterable<Buffer>;
  /** This draft as an enqueue message: `head` replaces its first `skip` bytes. */
  message(head: Buffer, skip: number): SpooledMessage;
  /** Close and remove the file (idempotent, never throws). */
  discard(): Promise<void>;
}

/** One positioned writev on the thread pool (the bytes may be many: they stay off the event loop). */
function writevAt(fd: number, buffers: Buffer[], pos: number): Promise<number> {
  return new Promise((resolve, reject) => writev(fd, buffers, pos, (e, n) => (e ? reject(e) : resolve(n))));
}

/**
 * Open a draft in `<spoolDir>/tmp/`, named `<random>.<host>.<pid>.draft` so the start-up sweep can tell a dead
 * writer's leftover from a live one. No fsync: the draft is scratch; the queue file enqueue writes from it is
 * the durable copy (fsync'ed, renamed, directory fsync'ed, as for any message).
 *
 * The open and the close are synchronous, on purpose (issue 21, session 9): each is one system call of a few
 * microseconds, where the thread pool's round trip cost the SMTP thread several times that (the hand-off, the
 * wake-up, the completion). The appends (their size is the client's) and the unlink stay on the thread pool:
 * the draft is a second link of a queue file the delivery thread is fsync'ing, and an unlink that waits for
 * that journal commit must not stall every session (a synchronous one was sampled at ~0.8 ms per call). The
 * draft holds a plain descriptor, closed by `discard` on every path (receive.ts, end-of-data.ts).
 */
export async function openDraft(spoolDir: string): Promise<Draft> {
  const path = join(spoolDir, 'tmp', tmpName(`d${randomBytes(8).toString('hex')}`, 'draft'));
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    // the spool may not be set up yet (the queue opens it in another thread): make tmp/ as openQueue does
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    mkdirSync(join(spoolDir, 'tmp'), { recursive: true, mode: 0o700 });
    fd = openSync(path, 'wx', 0o600);
  }
  let size = 0;
  let written = 0;
  let error: Error | undefined;
  let closed = false;
  let pending: Buffer[] = [];
  let waiters: Array<() => void> = [];
  let writing: Promise<void> | undefined;

  async function pump(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending;
      const done = waiters;
      pending = [];
      waiters = [];
      if (!error && !closed) {
        try {
          // one writev for whatever arrived while the last write ran
          let bytes = batch.reduce((n, b) => n + b.length, 0);
          let pos = DRAFT_RESERVE + written;
          let rest = batch;
          while (bytes > 0) {
            const bytesWritten = await writevAt(fd, rest, pos);
            pos += bytesWritten;
            bytes -= bytesWritten;
            if (bytes > 0) rest = [Buffer.concat(rest).subarray(bytesWritten)]; // a short write: the rest, once more
          }
        } catch (e) {
          error = e as Error;
        }
      }
      for (const b of batch) written += b.length;
      for (const w of done) w();
    }
    writing = undefined;
  }

  return {
    path,
    get size() {
      return size;
    },
    get backlog() {
      return size - written;
    },
    get error() {
      return error;
    },
    append(chunk) {
      size += chunk.length;
      return new Promise<void>((resolve) => {
        pending.push(chunk);
        waiters.push(resolve);
        writing ??= pump();
      });
    },
    async flushed() {
      while (writing) await writing;
      if (error) throw error;
    },
    async *read(start = 0, end = size) {
      const rh = await open(path, 'r');
      try {
        for (let pos = start; pos < end; ) {
          const buf = Buffer.allocUnsafe(Math.min(256 * 1024, end - pos));
          const { bytesRead } = await rh.read(buf, 0, buf.length, DRAFT_RESERVE + pos);
          if (bytesRead === 0) throw new Error(`draft ${path} ends at ${pos}, expected ${end}`);
          pos += bytesRead;
          yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        }
      } finally {
        await rh.close();
      }
    },
    message(head, skip) {
      return { file: path, size, head, skip, offset: DRAFT_RESERVE };
    },
    async discard() {
      if (closed) return;
      closed = true;
      // never close the descriptor under a write in flight (its number could be reused by then)
      while (writing) await writing.catch(() => undefined);
      try {
        closeSync(fd);
      } catch {
        // already closed: nothing to free
      }
      // the queue's own link stays when it took the draft as its queue file (adopt.ts links it into incoming/)
      await unlink(path).catch(() => undefined);
    },
  };
}
