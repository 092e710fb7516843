// A batching stdout for the one-line-per-decision log: one write(2) per 64 KB or per 200 ms, not per line.
// At thousands of decisions a second a syscall per line costs more than the decision itself.
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

function writeAll(fd: number, buf: Uint8Array, start: number, end: number): void {
  let at = start;
  while (at < end) at += writeSync(fd, buf, at, end - at);
}

/**
 * `pieceBytes` (e.g. PIPE_BUF): write the buffer in pieces of at most that many bytes, cut at line ends,
 * so processes sharing one stdout pipe (policyd's workers) never interleave inside a line. Unset: one
 * write per flush (a single writer needs no cuts).
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
      if (pieceBytes <= 0) {
        writeSync(fd, text);
        return;
      }
      // One encode per flush (writeSync(fd, string) encodes anyway); cut points found with memchr-like scans.
      const buf = Buffer.from(text, 'utf8');
      let start = 0;
      for (const end of cutPoints(buf, pieceBytes)) {
        writeAll(fd, buf, start, end);
        start = end;
      }
    } catch {
      // stdout gone (EPIPE): logging must never take the policy server down.
    }
  };
  const timer = setInterval(flushSync, opts.intervalMs ?? 200);
  timer.unref();
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
