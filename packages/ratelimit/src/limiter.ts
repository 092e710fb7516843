// createRateLimiter: Postfix anvil's per-client rate limits, per-SASL-user limits and AUTH failures, counted in
// the Redis every MX shares, one atomic script per check, failing open. Trusts Redis; the client address and
// login are what the SMTP session says (the caller's TCP peer or XCLIENT address, the authenticated login).
import type { ClockPort } from '@moat/policy';
import { cidrContains, parseCidr, parseIp, type Cidr } from '@moat/policy';
import { createLogger, defaultRegistry, type Logger, type Registry } from '@moat/observe';
import { connectRedis, type RedisClient, type RedisTarget, trackOutage, withTimeout } from '@moat/redis';
import { Cluster, type Redis } from 'ioredis';
import { clientBlock, counterKey, DEFAULT_PREFIX, LIMITS, type LimitName, PER_SERVICE } from './keys.ts';
import { listLimited, toState } from './counter-state.ts';
import { createMetrics } from './metrics.ts';
import { CHECK_LUA } from './script.ts';

/** Events per window; 0 turns a limit off (Postfix's default for all of them). */
export interface RateLimits {
  /** smtpd_client_message_rate_limit: MAIL commands per client per anvil_rate_time_unit. */
  smtpd_client_message_rate_limit: number;
  /** smtpd_client_recipient_rate_limit: RCPT commands per client per anvil_rate_time_unit. */
  smtpd_client_recipient_rate_limit: number;
  /** smtpd_client_auth_rate_limit: AUTH commands per client per anvil_rate_time_unit. */
  smtpd_client_auth_rate_limit: number;
  /** moat's own: MAIL commands per SASL login per anvil_rate_time_unit, whatever the client address. */
  sasl_user_message_rate_limit: number;
  /** moat's own: RCPT commands per SASL login per anvil_rate_time_unit. */
  sasl_user_recipient_rate_limit: number;
  /** Failed AUTHs per client within authFailureWindowSeconds; at this many, further AUTH is refused. */
  auth_failure_limit: number;
}

export interface RateLimiterOptions {
  redis: RedisTarget;
  limits: Partial<RateLimits>;
  /** anvil_rate_time_unit, seconds (Postfix: 60s). */
  timeUnitSeconds?: number;
  /** The AUTH failure window, seconds (mx.auth.failure_window: 10 minutes). */
  authFailureWindowSeconds?: number;
  /** smtpd_client_event_limit_exceptions: networks the client limits skip (Postfix default: $mynetworks). */
  exceptions?: readonly string[];
  /** smtpd_client_ipv4_prefix_length / smtpd_client_ipv6_prefix_length (Postfix 3.8: 32 and 84). */
  v4Prefix?: number;
  v6Prefix?: number;
  /** Redis slower than this fails open (default 200 ms). */
  timeoutMs?: number;
  keyPrefix?: string;
  /** Time source for tests; absent: the Redis server's TIME (one clock for every MX). */
  clock?: ClockPort | undefined;
  outageLogIntervalMs?: number;
  registry?: Registry;
  logger?: Logger;
}

export interface RateEvent {
  /** The client address the session is from. */
  client: string;
  /** The SASL login, when the session has authenticated. */
  user?: string | undefined;
  /** The listener (anvil counts per service): `smtp` (default) or `submission`. */
  service?: string | undefined;
}

export type RateOutcome =
  | { ok: true; failOpen?: true }
  | { ok: false; limit: LimitName; subject: string; count: number; max: number; windowSeconds: number };

export interface CounterState {
  limit: LimitName;
  /** The client address (or network) or login counted. */
  subject: string;
  service?: string | undefined;
  count: number;
  /** The configured limit. */
  max: number;
  windowStart: number;
  windowEnd: number;
  /** Commands refused in this window. */
  refused: number;
  lastRefused?: number | undefined;
  /** Over the limit now: its next counted command is refused. */
  limited: boolean;
}

export interface RateLimiter {
  /** Which limits are on (a check with none of them on costs no Redis call). */
  readonly active: ReadonlySet<LimitName>;
  /** MAIL: counts the client's and the login's messages. Never throws. */
  mail(e: RateEvent): Promise<RateOutcome>;
  /** RCPT: counts the client's and the login's recipients. Never throws. */
  rcpt(e: RateEvent): Promise<RateOutcome>;
  /** AUTH: counts the client's AUTH commands and checks its recent failures. Never throws. */
  auth(e: RateEvent): Promise<RateOutcome>;
  /** A failed AUTH, counted for its client across every MX. Never throws. */
  authFailed(e: RateEvent): Promise<void>;
  /** One counter as Redis holds it (read-only; may throw). */
  peek(limit: LimitName, subject: string, service?: string): Promise<CounterState | undefined>;
  /** Every client and login over a limit now, most refused first (read-only SCAN, bounded; may throw). */
  list(opts?: { limit?: number; maxScan?: number }): Promise<CounterState[]>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

class RateLimitStoreError extends Error {
  readonly code: 'RATELIMIT_TIMEOUT' | 'RATELIMIT_UNAVAILABLE' | 'RATELIMIT_BAD_REPLY';
  constructor(code: RateLimitStoreError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

type CheckCommand = (...args: (string | number)[]) => Promise<unknown>;

interface Planned {
  limit: LimitName;
  key: string;
  inc: number;
  threshold: number;
  window: number;
  who: string;
}

/** The one log line of a refusal: which limit, its window and count, and the client or user it counted. */
function logRefusal(logger: Logger, what: string, e: RateEvent, p: Planned, max: number, count: number): void {
  logger.warn(
    {
      event: 'rate-limit',
      limit: p.limit,
      max,
      count,
      windowSeconds: p.window,
      command: what,
      service: e.service ?? 'smtp',
      client: e.client,
      ...(p.who !== e.client && !p.limit.startsWith('sasl_user_') && { clientBlock: p.who }),
      ...(e.user && { user: e.user }),
    },
    `rate limit exceeded: ${p.limit}`,
  );
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const limits: Record<LimitName, number> = Object.fromEntries(LIMITS.map((l) => [l, Math.max(0, Math.floor(options.limits[l] ?? 0))])) as Record<
    LimitName,
    number
  >;
  const active = new Set(LIMITS.filter((l) => limits[l] > 0));
  const unit = Math.max(1, Math.round(options.timeUnitSeconds ?? 60));
  const failureWindow = Math.max(1, Math.round(options.authFailureWindowSeconds ?? 600));
  const v4Prefix = options.v4Prefix ?? 32;
  const v6Prefix = options.v6Prefix ?? 84;
  const timeoutMs = options.timeoutMs ?? 200;
  const prefix = options.keyPrefix ?? DEFAULT_PREFIX;
  const clock = options.clock;
  const logger = options.logger ?? createLogger('ratelimit');
  const metrics = createMetrics(options.registry ?? defaultRegistry);
  const exceptions: Cidr[] = [];
  for (const n of options.exceptions ?? []) {
    const c = parseCidr(n);
    if (c) exceptions.push(c);
    else logger.warn({ event: 'config', network: n }, 'rate limit exception is not a network: ignored');
  }
  const exempt = (client: string): boolean => {
    const ip = parseIp(client.replace(/^\[|\]$/g, ''));
    return ip !== undefined && exceptions.some((c) => cidrContains(c, ip));
  };

  const redis: RedisClient = connectRedis(options.redis, {
    connectionName: 'moat-ratelimit',
    connectTimeoutMs: Math.max(1000, timeoutMs * 5),
    autoPipelining: true,
  });
  redis.defineCommand('moatRateCheck', { lua: CHECK_LUA });
  const checkCmd = (redis as unknown as { moatRateCheck: CheckCommand }).moatRateCheck.bind(redis);

  // one log line when an outage starts (at most one per interval) and one when it ends
  const outage = trackOutage(redis, {
    logger,
    upGauge: metrics.storeUp,
    onConnectionError: () => metrics.redisErrors.inc({ kind: 'connection' }),
    name: 'ratelimit',
    downMessage: 'rate limit store unavailable: failing open (not counting) until it recovers',
    recoveredMessage: 'rate limit store recovered',
    logIntervalMs: options.outageLogIntervalMs,
  });
  const { markDown, markUp, whenReady } = outage;
  const timeout = (what: string, ms: number) => () => new RateLimitStoreError('RATELIMIT_TIMEOUT', `${what}: no reply within ${ms} ms`);

  const windowOf = (limit: LimitName) => (limit === 'auth_failure_limit' ? failureWindow : unit);
  /** The script's threshold: refused when count > threshold. N failures refuse the next AUTH, so N - 1. */
  const thresholdOf = (limit: LimitName) => (limit === 'auth_failure_limit' ? limits[limit] - 1 : limits[limit]);

  function plan(limit: LimitName, e: RateEvent, inc: number): Planned | undefined {
    if (!active.has(limit)) return undefined;
    const byUser = limit.startsWith('sasl_user_');
    if (byUser && !e.user) return undefined;
    if (PER_SERVICE.has(limit) && exempt(e.client)) return undefined;
    const who = byUser ? (e.user ?? '').toLowerCase() : clientBlock(e.client, v4Prefix, v6Prefix);
    return { limit, key: counterKey(prefix, limit, who, e.service ?? 'smtp'), inc, threshold: thresholdOf(limit), window: windowOf(limit), who };
  }

  /** One script call for every counter of the event; the first counter over its limit decides. */
  async function run(what: string, e: RateEvent, planned: (Planned | undefined)[]): Promise<RateOutcome> {
    const todo = planned.filter((p): p is Planned => p !== undefined);
    if (todo.length === 0) return { ok: true };
    const args: (string | number)[] = [todo.length, ...todo.map((p) => p.key), clock ? String(Math.floor(clock.now() / 1000)) : ''];
    const refuses = what === 'auth-failed' ? 0 : 1;
    for (const p of todo) args.push(p.inc, p.threshold, p.window, p.who, p.limit, refuses);
    let raw: unknown;
    const started = Date.now();
    try {
      await whenReady(timeoutMs);
      raw = await withTimeout(checkCmd(...args), Math.max(1, timeoutMs - (Date.now() - started)), timeout(`rate limit ${what}`, timeoutMs));
      if (!Array.isArray(raw) || raw.length !== 1 + 3 * todo.length) throw new RateLimitStoreError('RATELIMIT_BAD_REPLY', `unexpected script reply: ${JSON.stringify(raw)}`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      metrics.redisErrors.inc({ kind: code === 'RATELIMIT_TIMEOUT' ? 'timeout' : 'command' });
      if (code !== 'RATELIMIT_BAD_REPLY') markDown(err);
      outage.failedOpen();
      metrics.failOpen.inc();
      return { ok: true, failOpen: true };
    }
    markUp();
    const reply = raw as number[];
    for (let i = 0; i < todo.length; i++) {
      const p = todo[i]!;
      const count = Number(reply[1 + i * 3]);
      if (Number(reply[2 + i * 3]) !== 1 || !refuses) continue;
      const max = limits[p.limit];
      metrics.hits.inc({ limit: p.limit });
      logRefusal(logger, what, e, p, max, count);
      return { ok: false, limit: p.limit, subject: p.limit.startsWith('sasl_user_') ? (e.user ?? '') : e.client, count, max, windowSeconds: p.window };
    }
    return { ok: true };
  }

  async function now(): Promise<number> {
    if (clock) return Math.floor(clock.now() / 1000);
    const [s] = await withTimeout(redis.time(), 5000, timeout('rate limit time', 5000));
    return Number(s);
  }

  const admin = async <T>(f: () => Promise<T>, ms = 5000): Promise<T> => {
    await whenReady(ms);
    return withTimeout(f(), ms, timeout('rate limit admin', ms));
  };

  return {
    active,
    mail: (e) => run('mail', e, [plan('smtpd_client_message_rate_limit', e, 1), plan('sasl_user_message_rate_limit', e, 1)]),
    rcpt: (e) => run('rcpt', e, [plan('smtpd_client_recipient_rate_limit', e, 1), plan('sasl_user_recipient_rate_limit', e, 1)]),
    auth: (e) => run('auth', e, [plan('smtpd_client_auth_rate_limit', e, 1), plan('auth_failure_limit', e, 0)]),
    async authFailed(e) {
      await run('auth-failed', e, [plan('auth_failure_limit', e, 1)]);
    },
    async peek(limit, subject, service = 'smtp') {
      const who = limit.startsWith('sasl_user_') ? subject.toLowerCase() : clientBlock(subject, v4Prefix, v6Prefix);
      const key = counterKey(prefix, limit, who, service);
      const [h, t] = await admin(() => Promise.all([redis.hgetall(key), now()]));
      const st = toState(h, t, unit);
      return st && { ...st, ...(PER_SERVICE.has(limit) && { service }) };
    },
    async list(opts = {}) {
      const t = await admin(now);
      const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
      return listLimited(nodes, { prefix, unit, now: t, admin, limit: opts.limit ?? 100, maxScan: opts.maxScan ?? 100_000 });
    },
    async ping() {
      try {
        await whenReady(timeoutMs);
        await withTimeout(redis.ping(), timeoutMs, timeout('rate limit ping', timeoutMs));
        markUp();
        return true;
      } catch (e) {
        markDown(e);
        return false;
      }
    },
    async close() {
      outage.closing();
      try {
        await withTimeout(redis.quit(), 1000, timeout('rate limit quit', 1000));
      } catch {
        redis.disconnect();
      }
    },
  };
}
