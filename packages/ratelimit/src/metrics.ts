// The rate limits' Prometheus metrics, registered once per registry (port 25 and 587 share one limiter's).
// Trusts nothing: label values are the fixed limit names and error kinds, never request data.
import { Counter, Gauge, type Registry } from '@moat/observe';

const perRegistry = new WeakMap<Registry, ReturnType<typeof make>>();

export type RateLimitMetrics = ReturnType<typeof make>;

export function createMetrics(registry: Registry): RateLimitMetrics {
  let m = perRegistry.get(registry);
  if (!m) {
    m = make(registry);
    perRegistry.set(registry, m);
  }
  return m;
}

function make(registry: Registry) {
  const registers = [registry];
  return {
    hits: new Counter({
      name: 'moat_ratelimit_hits_total',
      help: 'Commands refused by a shared rate limit, by limit (the moat.yaml key)',
      labelNames: ['limit'] as const,
      registers,
    }),
    failOpen: new Counter({
      name: 'moat_ratelimit_fail_open_total',
      help: 'Checks passed without counting because the Redis store was unavailable or too slow',
      registers,
    }),
    redisErrors: new Counter({
      name: 'moat_ratelimit_redis_errors_total',
      help: 'Redis failures by kind: timeout (slower than timeoutMs), command (a reply error or a refused call), connection (client error events)',
      labelNames: ['kind'] as const,
      registers,
    }),
    storeUp: new Gauge({
      name: 'moat_ratelimit_store_up',
      help: '1 while the Redis store answers, 0 during an outage (checks fail open)',
      registers,
    }),
  };
}
