// A message spooled as it arrives: the gateway appends DATA chunks to a file in the spool's tmp/, then hands
// the file to enqueue (a SpooledMessage) instead of holding the message in memory. Trusts the file system;
// the bytes are untrusted and stored as received.
import { randomBytes } from 'node:crypto';
import { closeSync, open as openFd, writev } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@moat/observe';
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

/** open(2) on the thread pool, answering the plain descriptor (a FileHandle's close would be a second round trip). */
function openAt(path: string): Promise<number> {
  return new Promise((resolve, reject) => openFd(path, 'wx', 0o600, (e, fd) => (e ? reject(e) : resolve(fd))));
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
 * The open, the appends and the unlink run on the thread pool: each touches the spool's directory or journal,
 * which the delivery thread's write/fsync/link/unlink of queue files contends for (session 9 measured a
 * synchronous open(O_CREAT|O_EXCL) at 90-300 µs median, worst 1.7-7.5 ms, under that load), and a stuck spool
 * disk must not freeze every session. Only the close is synchronous: it frees a descriptor of a file nobody
 * else has open for writing, before the unlink. The draft holds that plain descriptor, closed by `discard` on
 * every path (receive.ts, end-of-data.ts).
 */
export async function openDraft(spoolDir: string, logger?: Pick<Logger, 'warn'>): Promise<Draft> {
  const path = join(spoolDir, 'tmp', tmpName(`d${randomBytes(8).toString('hex')}`, 'draft'));
  let fd: number;
  try {
    fd = await openAt(path);
  } catch (e) {
    // the spool may not be set up yet: the delivery thread opens it while the MX already takes DATA (apps/mx
    // test/main.test.ts meets this), so make tmp/ as openQueue does. Known gap (review): this can also bring
    // back a spool directory removed under a running MX; closing it needs a "spool open" signal from the
    // delivery thread before the first draft.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await mkdir(join(spoolDir, 'tmp'), { recursive: true, mode: 0o700 });
    fd = await openAt(path);
  }
  let size = 0;
  let written = 0;
  let error: Error | undefined;
  let closed = false;
  let pending: Buffer[] = [];
  let waiters: Array<() => void> = [];
  let writing: Promise<void> | undefined;

  async function pump(): Promise<void> {
    // yield first: with nothing to write (an error or discard came before) the loop would finish synchronously,
    // clear `writing` before `append` stores this promise, and leave `flushed`/`discard` awaiting it forever
    await Promise.resolve();
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
      } catch (e) {
        // EBADF: already closed, nothing to free; anything else (EIO) is worth knowing, and the unlink still runs
        if ((e as NodeJS.ErrnoException).code !== 'EBADF') {
          if (logger) logger.warn({ event: 'draft-close-failed', path, err: e }, 'closing a draft failed');
          else process.emitWarning(`draft ${path}: close failed: ${(e as Error).message}`);
        }
      }
      // the queue's own link stays when it took the draft as its queue file (adopt.ts links it into incoming/)
      await unlink(path).catch(() => undefined);
    },
  };
}
