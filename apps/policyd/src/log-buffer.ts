// A batching stdout for the one-line-per-decision log: one write(2) per 64 KB or per 200 ms, not per line.
// At thousands of decisions a second a syscall per line costs more than the decision itself.
import { writeSync } from 'node:fs';

/** What pino needs from a destination: `write(line)`. A plain object: no stream machinery per line. */
export interface BufferedOut {
  write(chunk: string): boolean;
  /** Write out what is buffered now (also done every intervalMs and at process exit). */
  flushSync(): void;
}

export function bufferedStdout(opts: { fd?: number; maxBytes?: number; intervalMs?: number } = {}): BufferedOut {
  const fd = opts.fd ?? 1;
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  let parts: string[] = [];
  let bytes = 0;
  const flushSync = () => {
    if (bytes === 0) return;
    const text = parts.join('');
    parts = [];
    bytes = 0;
    try {
      writeSync(fd, text);
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
