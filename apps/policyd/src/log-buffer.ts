// A batching stdout for the one-line-per-decision log: one write(2) per 64 KB or per 200 ms, not per line.
// At tens of thousands of decisions a second a syscall per line costs more than the decision itself.
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

export function bufferedStdout(opts: { fd?: number; maxBytes?: number; intervalMs?: number } = {}): Writable & { flushSync(): void } {
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
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      const s = typeof chunk === 'string' ? chunk : chunk.toString();
      parts.push(s);
      bytes += s.length;
      // A full buffer is written at once (blocking, like pino's default sync destination): bounded memory.
      if (bytes >= maxBytes) flushSync();
      cb();
    },
    final(cb) {
      clearInterval(timer);
      flushSync();
      cb();
    },
  });
  process.once('exit', flushSync);
  return Object.assign(stream, { flushSync });
}
