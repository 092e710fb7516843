// The Redis side: one connection (standalone or Sentinel), the decide script, fail-open bookkeeping.
// Trusts the Redis server it is pointed at; treats every failure or slow reply as "unavailable".
import { Cluster, type Redis } from 'ioredis';
import type { Logger } from '@moat/observe';
import { connectRedis, type RedisClient, type RedisTarget, trackOutage, withTimeout as underBudget } from '@moat/redis';
import type { GreylistMetrics } from './metrics.ts';
import { DECIDE_LUA } from './script.ts';

export type { RedisClient, RedisTarget } from '@moat/redis';

export interface DecideReply {
  action: 'defer' | 'retry' | 'known' | 'awl';
  seconds: number;
  /** The decision's time, seconds since the epoch (Redis TIME or the injected clock). */
  now: number;
  attempts: number;
  firstSeen: number;
}

/** A store failure, with a code from the greylist's small registry (check() fails open on it; peek() throws it). */
export class GreylistStoreError extends Error {
  readonly code: 'GREYLIST_TIMEOUT' | 'GREYLIST_UNAVAILABLE' | 'GREYLIST_BAD_REPLY';
  constructor(code: GreylistStoreError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** `p` within `ms`, else GREYLIST_TIMEOUT naming `what`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return underBudget(p, ms, () => new GreylistStoreError('GREYLIST_TIMEOUT', `${what}: no reply within ${ms} ms`));
}

/** The script's reply as a DecideReply; anything else is GREYLIST_BAD_REPLY. */
function parseReply(raw: unknown, count: (kind: 'command') => void): DecideReply {
  if (!Array.isArray(raw) || raw.length < 5) {
    count('command');
    throw new GreylistStoreError('GREYLIST_BAD_REPLY', `unexpected script reply: ${JSON.stringify(raw)}`);
  }
  const [action, seconds, now, attempts, firstSeen] = raw as [string, number, number, number, number];
  if (action !== 'defer' && action !== 'retry' && action !== 'known' && action !== 'awl') {
    throw new GreylistStoreError('GREYLIST_BAD_REPLY', `unexpected script action: ${action}`);
  }
  return { action, seconds: Number(seconds), now: Number(now), attempts: Number(attempts), firstSeen: Number(firstSeen) };
}

type DecideCommand = (k1: string, k2: string, ...args: (string | number)[]) => Promise<unknown>;

export interface Store {
  readonly redis: RedisClient;
  /** The connections that hold data (the master, or every cluster master): for SCAN. */
  dataNodes(): Redis[];
  decide(tripletKey: string, awlKey: string, args: (string | number)[]): Promise<DecideReply>;
  /** The decide script as a dry run (writes nothing), under the admin timeout; errors propagate typed. */
  peek(tripletKey: string, awlKey: string, args: (string | number)[]): Promise<DecideReply>;
  /** Run an admin command under a longer timeout; errors propagate (the admin API may throw). */
  admin<T>(fn: (r: RedisClient) => Promise<T>, timeoutMs?: number): Promise<T>;
  /** Seconds since the epoch from the Redis server's clock. */
  time(): Promise<number>;
  ping(): Promise<boolean>;
  isUp(): boolean;
  close(): Promise<void>;
}

export function createStore(opts: {
  redis: RedisTarget;
  timeoutMs: number;
  logger: Logger;
  metrics: GreylistMetrics;
  outageLogIntervalMs?: number | undefined;
}): Store {
  const { logger, metrics, timeoutMs } = opts;
  const redis: RedisClient = connectRedis(opts.redis, {
    connectionName: 'moat-greylist',
    connectTimeoutMs: Math.max(1000, timeoutMs * 5),
    autoPipelining: true,
  });
  redis.defineCommand('moatGreylistDecide', { numberOfKeys: 2, lua: DECIDE_LUA });
  const decideCmd = (redis as unknown as { moatGreylistDecide: DecideCommand }).moatGreylistDecide.bind(redis);

  // one down line per outage (at most one per outageLogIntervalMs while the store flaps), one when it ends
  const outage = trackOutage(redis, {
    logger,
    upGauge: metrics.storeUp,
    onConnectionError: () => metrics.redisErrors.inc({ kind: 'connection' }),
    name: 'greylist',
    downMessage: 'greylist store unavailable: failing open until it recovers',
    recoveredMessage: 'greylist store recovered',
    logIntervalMs: opts.outageLogIntervalMs,
    countUnlogged: true,
  });
  const { markDown, markUp, whenReady } = outage;

  return {
    redis,
    dataNodes: () => (redis instanceof Cluster ? redis.nodes('master') : [redis]),
    decide(tripletKey, awlKey, args) {
      const failed = (e: unknown): never => {
        metrics.redisErrors.inc({ kind: e instanceof GreylistStoreError && e.code === 'GREYLIST_TIMEOUT' ? 'timeout' : 'command' });
        markDown(e);
        outage.failedOpen();
        throw e instanceof GreylistStoreError ? e : new GreylistStoreError('GREYLIST_UNAVAILABLE', String((e as Error)?.message ?? e), { cause: e });
      };
      const answered = (raw: unknown): DecideReply => {
        markUp();
        return parseReply(raw, (kind) => metrics.redisErrors.inc({ kind }));
      };
      const call = (ms: number): Promise<unknown> => {
        try {
          return withTimeout(decideCmd(tripletKey, awlKey, ...args), ms, 'greylist decide');
        } catch (e) {
          return Promise.reject(e);
        }
      };
      // up (the steady state): one promise chain, no async frame; before the first connection: wait for it first
      if (outage.isUp()) return call(timeoutMs).then(answered, failed);
      const started = Date.now();
      return whenReady(timeoutMs)
        .then(() => call(Math.max(1, timeoutMs - (Date.now() - started))))
        .then(answered, failed);
    },
    async peek(tripletKey, awlKey, args) {
      let raw: unknown;
      try {
        await whenReady(5000);
        raw = await withTimeout(decideCmd(tripletKey, awlKey, ...args, '1'), 5000, 'greylist peek');
      } catch (e) {
        throw e instanceof GreylistStoreError ? e : new GreylistStoreError('GREYLIST_UNAVAILABLE', String((e as Error)?.message ?? e), { cause: e });
      }
      return parseReply(raw, () => undefined);
    },
    async admin(fn, ms = 5000) {
      await whenReady(ms);
      return withTimeout(fn(redis), ms, 'greylist admin');
    },
    async time() {
      await whenReady(5000);
      const [s] = await withTimeout(redis.time(), 5000, 'greylist time');
      return Number(s);
    },
    async ping() {
      try {
        await whenReady(timeoutMs);
        await withTimeout(redis.ping(), timeoutMs, 'greylist ping');
        markUp();
        return true;
      } catch (e) {
        markDown(e);
        return false;
      }
    },
    isUp: outage.isUp,
    async close() {
      outage.closing();
      try {
        await withTimeout(redis.quit(), 1000, 'greylist quit');
      } catch {
        redis.disconnect();
      }
    },
  };
}
