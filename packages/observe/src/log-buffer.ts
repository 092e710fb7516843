// A batching stdout for the one-line-per-decision logs (policyd, both MX threads): one write(2) per 64 KB or per
// 200 ms, not per line. Trusts only that its caller hands it whole lines; at thousands a second a syscall per line
// costs more than the decision itself.
//
// What a stop can lose: nothing on a clean stop (process.exit, from the apps' SIGTERM/SIGINT handlers, or a
// worker thread's own exit: the 'exit' event flushes); on SIGKILL, a crash in native code or a thread terminated
// from outside, the lines of at most the last `intervalMs` (and under `maxBytes`). Mail is never in this buffer:
// the queue is durable on its own, only its log lines can go.
import { writeSync } from 'node:fs';

/** What pino needs from a destination: `write(line)`. A plain object: no stream machinery per line. */
export interface BufferedOut {
  write(chunk: string): boolean;
  /** Write out what is buffered now (also done every intervalMs and at process exit). */
  flushSync(): void;
}

/** Linux's PIPE_BUF: a write(2) of at most this many bytes to a pipe is never interleaved with another's. */
export const PIPE_BUF = 4096;

/**
 * Where to cut `buf` (whole lines) into writes of at most `max` bytes: the end offset of each piece.
 * Each piece ends at a line end; a line longer than `max` is a piece of its own (it cannot be atomic,
 * but it never carries the start or end of another line with it).
 */
export function cutPoints(buf: Uint8Array, max: number): number[] {
  const ends: number[] = [];
  const len = buf.length;
  let start = 0;
  while (len - start > max) {
    const nl = buf.lastIndexOf(10, start + max - 1);
    let end: number;
    if (nl >= start) end = nl + 1;
    else {
      const next = buf.indexOf(10, start + max);
      end = next < 0 ? len : next + 1;
    }
    ends.push(end);
    start = end;
  }
  if (start < len) ends.push(len);
  return ends;
}

const nap = new Int32Array(new SharedArrayBuffer(4));
/** How long a flush waits, in all, for a full non-blocking stdout (EAGAIN) before it drops the rest. */
const EAGAIN_PATIENCE_MS = 2000;

/**
 * Writes buf[start, end) out. A stdout that is a non-blocking pipe or socket (a Node parent's `stdio: 'pipe'`)
 * answers EAGAIN when full: wait 1 ms and write again, as pino's sync destination does, so a slow reader slows
 * the writer instead of losing lines; after EAGAIN_PATIENCE_MS in one flush the rest is dropped (a reader that
 * never reads must not stop mail). Other errors (EPIPE: stdout gone) throw to the caller.
 */
function writeAll(fd: number, buf: Uint8Array, start: number, end: number, waited: { ms: number }): void {
  let at = start;
  while (at < end) {
    try {
      at += writeSync(fd, buf, at, end - at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || waited.ms >= EAGAIN_PATIENCE_MS) throw e;
      Atomics.wait(nap, 0, 0, 1);
      waited.ms++;
    }
  }
}

/**
 * `pieceBytes` (e.g. PIPE_BUF): write the buffer in pieces of at most that many bytes, cut at line ends,
 * so writers sharing one stdout pipe (policyd's worker processes, the MX's two threads) never interleave
 * inside a line. Unset: one write per flush (a single writer needs no cuts).
 */
export function bufferedStdout(opts: { fd?: number; maxBytes?: number; intervalMs?: number; pieceBytes?: number } = {}): BufferedOut {
  const fd = opts.fd ?? 1;
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  const pieceBytes = opts.pieceBytes ?? 0;
  let parts: string[] = [];
  let bytes = 0;
  const flushSync = () => {
    if (bytes === 0) return;
    const text = parts.join('');
    parts = [];
    bytes = 0;
    try {
      // One encode per flush (writeSync(fd, string) encodes anyway); cut points found with memchr-like scans.
      const buf = Buffer.from(text, 'utf8');
      const waited = { ms: 0 };
      if (pieceBytes <= 0) {
        writeAll(fd, buf, 0, buf.length, waited);
        return;
      }
      let start = 0;
      for (const end of cutPoints(buf, pieceBytes)) {
        writeAll(fd, buf, start, end, waited);
        start = end;
      }
    } catch {
      // stdout gone (EPIPE): logging must never take the policy server down.
    }
  };
  const timer = setInterval(flushSync, opts.intervalMs ?? 200);
  timer.unref();
  // in a worker thread this is the thread's own exit (its process.exit), not the process's
  process.once('exit', flushSync);
  return {
    write(chunk: string) {
      parts.push(chunk);
      bytes += chunk.length;
      // A full buffer is written at once (blocking, like pino's default sync destination): bounded memory.
      if (bytes >= maxBytes) flushSync();
      return true;
    },
    flushSync,
  };
}
