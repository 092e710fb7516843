// Shared bits of the greylist's real-daemon tests: a settable clock, a log capture, Redis stats.
// Trusts only the loopback daemons the tests start.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@moat/observe';
import type { Redis } from 'ioredis';

export function settableClock(startSeconds = 1_800_000_000) {
  let ms = startSeconds * 1000;
  return {
    now: () => ms,
    set: (s: number) => {
      ms = s * 1000;
    },
    advance: (s: number) => {
      ms += s * 1000;
    },
    seconds: () => Math.floor(ms / 1000),
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
  return { logger: createLogger('greylist', { level, destination }), lines: () => lines };
}

export const silentLogger = (): Logger => createLogger('greylist', { level: 'silent' });

/** `cmdstat_<name>` call counts from INFO commandstats. */
export async function commandCalls(r: Redis): Promise<Record<string, number>> {
  const info = await r.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
