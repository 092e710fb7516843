// Shared bits of the greylist's real-daemon tests: a settable clock, a log capture, Redis stats, a greylist on Redis.
// Trusts only the loopback daemons the tests start.
import { Writable } from 'node:stream';
import { createLogger, createRegistry, type Logger } from '@moat/observe';
import { type RedisServer, startRedis } from '@moat/testkit';
import { Redis as IORedis, type Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createGreylist, type Greylist, type GreylistOptions } from '../src/index.ts';

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

/**
 * The behaviour tests' fixture: one redis-server for the file, flushed before each test. `make` opens a
 * greylist on it (closed after the file); `raw()` is a plain connection for looking at the keys.
 */
export function greylistOnRedis(): {
  make(clock: ReturnType<typeof settableClock> | undefined, over?: Partial<GreylistOptions>): Greylist;
  raw(): Redis;
} {
  let redis: RedisServer;
  let raw: Redis;
  const open: Greylist[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    raw = new IORedis(redis.url);
  });
  afterAll(async () => {
    await Promise.all(open.map((g) => g.close()));
    raw.disconnect();
    await redis.stop();
  });
  beforeEach(async () => {
    await raw.flushall();
  });
  return {
    make(clock, over = {}) {
      const gl = createGreylist({
        redis: { url: redis.url },
        clock,
        hostname: 'mx-test.example',
        registry: createRegistry(),
        logger: silentLogger(),
        adminWhitelistRefreshMs: 3_600_000,
        timeoutMs: 5000, // behaviour tests: a loaded box must not fail open
        ...over,
      });
      open.push(gl);
      return gl;
    },
    raw: () => raw,
  };
}

/** A triplet to decide: 203.0.113.10, alice@sender.example -> bob@rcpt.example, with overrides. */
export const triplet = (over: Partial<{ clientAddress: string; clientName: string; sender: string; recipient: string }> = {}) => ({
  clientAddress: '203.0.113.10',
  sender: 'alice@sender.example',
  recipient: 'bob@rcpt.example',
  ...over,
});
