// The greylist's Prometheus metrics, registered on the registry the caller hands in.
// Trusts nothing: label values are fixed sets chosen here, never request data.
import { Counter, Gauge, Histogram, hotCounter, type Registry } from '@moat/observe';


export type GreylistMetrics = ReturnType<typeof makeMetrics>;

// One set per registry: a config reload builds a second greylist on the same registry, whose counters
// must go on (prom-client refuses a second metric of the same name).
const perRegistry = new WeakMap<Registry, GreylistMetrics>();

export function createMetrics(registry: Registry): GreylistMetrics {
  let m = perRegistry.get(registry);
  if (!m) {
    m = makeMetrics(registry);
    perRegistry.set(registry, m);
  }
  return m;
}

function makeMetrics(registry: Registry) {
  const registers = [registry];
  return {
    // counted per decision: hotCounter (no label hashing per increment; prom-client sees the counts when read)
    decisions: hotCounter({
      name: 'moat_greylist_decisions_total',
      help: 'Greylist decisions by action (pass/defer) and reason (retry, known, whitelist, auto-whitelist, fail-open, greylisted)',
      labelNames: ['action', 'reason'],
      registers,
    }),
    failOpen: new Counter({
      name: 'moat_greylist_fail_open_total',
      help: 'Messages passed because the greylist store was unavailable or too slow',
      registers,
    }),
    redisErrors: new Counter({
      name: 'moat_greylist_redis_errors_total',
      help: 'Redis failures by kind: timeout (slower than timeoutMs), command (a reply error or a refused call), connection (client error events)',
      labelNames: ['kind'],
      registers,
    }),
    delay: new Histogram({
      name: 'moat_greylist_delay_seconds',
      help: 'How long a triplet was delayed before its retry passed',
      buckets: [60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800],
      registers,
    }),
    latency: new Histogram({
      name: 'moat_greylist_decision_seconds',
      help: 'Wall time of one greylist decision (SPF lookup and Redis round trip included)',
      labelNames: ['action'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    storeUp: new Gauge({
      name: 'moat_greylist_store_up',
      help: '1 while the Redis store answers, 0 during an outage (decisions fail open)',
      registers,
    }),
    identity: hotCounter({
      name: 'moat_greylist_identity_total',
      help: 'Which sender identity keyed the triplet: spf pool, ptr organisational domain, or client network',
      labelNames: ['kind'],
      registers,
    }),
    spf: hotCounter({
      name: 'moat_greylist_spf_total',
      help: 'SPF evaluations done for pool matching, by result',
      labelNames: ['result'],
      registers,
    }),
  };
}
