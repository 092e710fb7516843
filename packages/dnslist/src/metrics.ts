// The dnslist metrics, registered once per registry (a second client on the same registry reuses them).
// Labels are zone names from config and fixed words: bounded cardinality.
import { Counter, Gauge, Histogram, metricOnce as once, type Registry } from '@moat/observe';

export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    lookups: once(
      registry,
      'moat_dnslist_lookups_total',
      () =>
        new Counter({
          name: 'moat_dnslist_lookups_total',
          help: 'DNS list lookups by zone and result (listed, not-listed, unknown)',
          labelNames: ['zone', 'result'] as const,
          registers,
        }),
    ),
    hits: once(
      registry,
      'moat_dnslist_hits_total',
      () =>
        new Counter({
          name: 'moat_dnslist_hits_total',
          help: 'DNS list lookups that found a listing, by zone',
          labelNames: ['zone'] as const,
          registers,
        }),
    ),
    errors: once(
      registry,
      'moat_dnslist_errors_total',
      () =>
        new Counter({
          name: 'moat_dnslist_errors_total',
          help: 'DNS list lookups that failed open, by zone and kind (timeout, servfail, refused, budget, disabled, invalid, error)',
          labelNames: ['zone', 'kind'] as const,
          registers,
        }),
    ),
    latency: once(
      registry,
      'moat_dnslist_lookup_seconds',
      () =>
        new Histogram({
          name: 'moat_dnslist_lookup_seconds',
          help: 'DNS list A lookup latency through the resolver, by zone',
          labelNames: ['zone'] as const,
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
          registers,
        }),
    ),
    healthy: once(
      registry,
      'moat_dnslist_zone_healthy',
      () =>
        new Gauge({
          name: 'moat_dnslist_zone_healthy',
          help: 'Zone health: 1 healthy or unchecked, 0 disabled or unreachable',
          labelNames: ['zone'] as const,
          registers,
        }),
    ),
    warnings: once(
      registry,
      'moat_dnslist_zone_warnings_total',
      () =>
        new Counter({
          name: 'moat_dnslist_zone_warnings_total',
          help: 'Zone-health warnings: operator error codes and out-of-range answers, by zone and reason',
          labelNames: ['zone', 'reason'] as const,
          registers,
        }),
    ),
    resolverWarning: once(
      registry,
      'moat_dnslist_resolver_not_local',
      () =>
        new Gauge({
          name: 'moat_dnslist_resolver_not_local',
          help: '1 when the configured resolver is not a loopback/private address (big lists refuse public resolvers)',
          registers,
        }),
    ),
  };
}

export type DnsListMetrics = ReturnType<typeof createMetrics>;
