// The one caching rule for moat's DNS questions, in front of the bundled Unbound (which is the real cache).
// Trusts nothing it stores beyond the TTL the resolver gave; keeps a resolver's SERVFAIL/REFUSED a few seconds at most.

/**
 * THE RULE (docs/design.md, "DNS"):
 * - an answer with records is kept for min(its TTL, `answerMs`, default 60 s); where node:dns reports no
 *   TTL (MX, PTR, other types) for `answerMs`. Never longer than the resolver would keep it itself
 *   for A/AAAA, so a DNS list's changed listing is seen when Unbound sees it.
 * - "does not exist" (NXDOMAIN, NODATA) is an answer, and one client's many messages ask the same missing
 *   PTR/SPF/DMARC names again and again. Where the reply's authority SOA was read (TXT questions: the
 *   transport sets `negativeTtl` on the error), it is kept as RFC 2308 says, min(SOA TTL, SOA MINIMUM), at
 *   most `negativeMaxMs` (default 900 s); Unbound hands out that TTL already counted down, so moat never keeps
 *   it longer than Unbound does. A wire reply that had no SOA says `negativeTtl: 0` and is not kept (RFC 2308
 *   section 5: SHOULD NOT cache). c-ares' questions, whose SOA is never seen, keep `negativeMs` (default 30 s).
 * - a resolver's reply that says it has no answer (SERVFAIL, REFUSED) is kept `failureMs` (createDns: 5 s;
 *   default 0, not kept): RFC 2308 section 7.1 allows at most 5 minutes. A few seconds is enough for the case
 *   that costs: every connection of one client asks the same failing name (a PTR name whose A lookup fails),
 *   and short enough that a resolver that recovers is used almost at once.
 * - no reply (timeout, a refused connection, any other error) is never kept: the next question asks again.
 *   Identical questions in flight share one query, so a burst does not hammer a sick resolver either.
 * - bounded: at most `max` entries (default 10,000), the oldest dropped first.
 */
import { isNotFound } from './failure.ts';

/**
 * The resolver replied and said it has no answer (not a timeout, not a refused connection), and every try said
 * so: one server's SERVFAIL among the others' timeouts is not kept (transport.ts, `mixed`).
 */
function isResolverFailure(error: unknown): boolean {
  const e = error as { code?: unknown; mixed?: unknown } | undefined;
  return (e?.code === 'ESERVFAIL' || e?.code === 'EREFUSED') && e.mixed !== true;
}

export interface CacheOptions {
  answerMs?: number;
  negativeMs?: number;
  /** Cap for a negative answer kept by its SOA (RFC 2308), ms. */
  negativeMaxMs?: number;
  /** How long a SERVFAIL or REFUSED from the resolver is kept, ms (0: not kept; RFC 2308 7.1: at most 300 s). */
  failureMs?: number;
  max?: number;
  /** Called when a kept SERVFAIL/REFUSED answers a question (by `ask` or `peek`): for a metric and a log line. */
  onHeldFailure?: (key: string, error: unknown) => void;
  /** Clock for expiry (tests), ms. */
  now?: () => number;
}

type Entry = { until: number; value: unknown; failed: false } | { until: number; error: unknown; failed: true };

/** What the memo holds for a key right now: records, or the kept error ("does not exist", or a SERVFAIL/REFUSED kept `failureMs`). */
export type Held<T> = { data: T; error?: undefined } | { data?: undefined; error: unknown };

export interface Memo {
  /** `run` answers records and, when known, their TTL in seconds. */
  ask<T>(key: string, run: () => Promise<{ data: T; ttl?: number }>): Promise<T>;
  /**
   * What `ask` would answer from the memo, without a promise: for hot paths that can finish synchronously
   * when every answer is held (the greylist's SPF check). Undefined when not held (or expired): ask then.
   */
  peek<T>(key: string): Held<T> | undefined;
  size(): number;
}

export function memo(opts: CacheOptions): Memo {
  const answerMs = opts.answerMs ?? 60_000;
  const negativeMs = opts.negativeMs ?? 30_000;
  const negativeMaxMs = opts.negativeMaxMs ?? 900_000;
  const failureMs = Math.min(opts.failureMs ?? 0, 300_000);
  const max = opts.max ?? 10_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<unknown>>();

  function keep(key: string, entry: Entry): void {
    if (entry.until <= now()) return;
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > max) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  }

  function servedFailure(key: string, error: unknown): void {
    if (opts.onHeldFailure && isResolverFailure(error)) opts.onHeldFailure(key, error);
  }

  function negativeLife(error: unknown): number {
    const soa = (error as { negativeTtl?: unknown }).negativeTtl;
    return typeof soa === 'number' ? Math.min(negativeMaxMs, soa * 1000) : negativeMs;
  }

  function ask<T>(key: string, run: () => Promise<{ data: T; ttl?: number }>): Promise<T> {
    const hit = cache.get(key);
    if (hit && hit.until > now()) {
      if (!hit.failed) return Promise.resolve(hit.value as T);
      servedFailure(key, hit.error);
      return Promise.reject(hit.error);
    }
    if (hit) cache.delete(key);
    const flying = inFlight.get(key);
    if (flying) return flying as Promise<T>;
    const p = run().then(
      ({ data, ttl }) => {
        const ms = ttl === undefined ? answerMs : Math.min(answerMs, ttl * 1000);
        keep(key, { until: now() + ms, value: data, failed: false });
        return data;
      },
      (error: unknown) => {
        if (isNotFound(error)) keep(key, { until: now() + negativeLife(error), error, failed: true });
        else if (failureMs > 0 && isResolverFailure(error)) keep(key, { until: now() + failureMs, error, failed: true });
        throw error;
      },
    );
    inFlight.set(key, p);
    const clear = () => inFlight.delete(key);
    p.then(clear, clear);
    return p;
  }

  function peek<T>(key: string): Held<T> | undefined {
    const hit = cache.get(key);
    if (hit === undefined || hit.until <= now()) return undefined;
    if (!hit.failed) return { data: hit.value as T };
    servedFailure(key, hit.error);
    return { error: hit.error };
  }

  return { ask, peek, size: () => cache.size };
}
