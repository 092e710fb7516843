// Shared bits of the rate limits' real-daemon tests: a settable clock and a log capture.
// Trusts only the loopback daemons the tests start.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@moat/observe';

export function settableClock(startSeconds = 1_800_000_000) {
  let ms = startSeconds * 1000;
  return {
    now: () => ms,
    advance: (s: number) => {
      ms += s * 1000;
    },
  };
}

export function captureLogger(level = 'info'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger('ratelimit', { level, destination }), lines: () => lines };
}
