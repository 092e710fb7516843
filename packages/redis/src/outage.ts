// The one outage tracker of a fail-open Redis user (greylist store, rate limiter): 'starting' -> 'up' | 'down'.
// Logs once when an outage starts (at most once per interval, so a flapping store never logs per message) and
// once when it ends, with how long it lasted and how many calls failed open meanwhile. Trusts its caller's signals.
import type { RedisClient } from './index.ts';
import { firstReadyGate } from './ready-gate.ts';
import { stallGuard } from './stall-guard.ts';

/** What the tracker logs through (a pino logger). */
export interface OutageLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface OutageTracker {
  isUp(): boolean;
  /** A call failed: the store is down (logged when the outage is new and the interval allows). */
  markDown(err: unknown): void;
  /** A call succeeded, or the connection is ready again. */
  markUp(): void;
  /** One call failed open during the current outage (reported when it ends). */
  failedOpen(): void;
  /** Until the first connection is up (or has failed) callers wait for it within `ms`; afterwards at once. */
  whenReady(ms: number): Promise<void>;
  /** Closing on purpose: no more state changes or log lines. */
  closing(): void;
}

export interface OutageOptions {
  logger: OutageLogger;
  /** The `..._store_up` gauge: 0 until the first connection, then 1 / 0 with the state. */
  upGauge: { set(value: number): void };
  /** Each connection error the client emits (counted by the caller's metrics). */
  onConnectionError(): void;
  /** Log events `<name>-store-down` and `<name>-store-recovered`. */
  name: string;
  downMessage: string;
  recoveredMessage: string;
  /** At most one down line per this interval (default 30 s). */
  logIntervalMs?: number | undefined;
  /** Name, in the down line, the outages that were not logged since the last one. */
  countUnlogged?: boolean | undefined;
  /**
   * Calls failing this long on a connection that looks open: drop it and reconnect (default 5 s; see
   * stall-guard.ts). A killed Redis host sends no reset, and the socket would otherwise stay for minutes.
   */
  stallReconnectMs?: number | undefined;
}

export function trackOutage(redis: RedisClient, o: OutageOptions): OutageTracker {
  let state: 'starting' | 'up' | 'down' = 'starting';
  let closing = false;
  let downSince = 0;
  let failOpens = 0;
  let lastDownLog = Number.NEGATIVE_INFINITY;
  let downLogged = false;
  let unloggedOutages = 0;
  const logInterval = o.logIntervalMs ?? 30_000;
  o.upGauge.set(0);

  const stall = stallGuard(redis, {
    afterMs: o.stallReconnectMs ?? 5000,
    onReconnect: () => o.logger.warn({ event: `${o.name}-store-reconnect` }, `${o.name} store: calls fail on an open connection; reconnecting`),
  });
  const markDown = (err: unknown) => {
    stall.failed();
    if (closing || state === 'down') return;
    state = 'down';
    downSince = Date.now();
    failOpens = 0;
    o.upGauge.set(0);
    downLogged = downSince - lastDownLog >= logInterval;
    if (!downLogged) {
      unloggedOutages++;
      return;
    }
    lastDownLog = downSince;
    const e = { message: (err as Error)?.message, code: (err as { code?: string })?.code };
    o.logger.warn({ event: `${o.name}-store-down`, err: e, ...(o.countUnlogged ? { unloggedOutages } : {}) }, o.downMessage);
    unloggedOutages = 0;
  };
  const markUp = () => {
    stall.ok();
    if (closing || state === 'up') return;
    const was = state;
    state = 'up';
    o.upGauge.set(1);
    if (was === 'down' && downLogged) {
      o.logger.info({ event: `${o.name}-store-recovered`, downMs: Date.now() - downSince, failOpens }, o.recoveredMessage);
    }
  };
  redis.on('error', (e: Error) => {
    o.onConnectionError();
    markDown(e);
  });
  redis.on('ready', markUp);
  const firstReady = firstReadyGate(redis);
  return {
    isUp: () => state === 'up',
    markDown,
    markUp,
    failedOpen: () => {
      failOpens++;
    },
    whenReady: (ms) => (state === 'starting' ? firstReady(ms) : Promise.resolve()),
    closing: () => {
      closing = true;
      stall.close();
    },
  };
}
