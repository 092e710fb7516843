// The DNS client's metrics: how often a kept resolver failure was served instead of asking (cache.ts keeps a
// SERVFAIL/REFUSED every try got, a few seconds). Trusts nothing; registered once per registry.
import { Counter, metricOnce, type Registry } from '@moat/observe';
import { dnsFailureKind } from './failure.ts';

export interface DnsMetrics {
  /** A kept failure answered a question (the resolver was not asked). */
  heldFailure(error: unknown): void;
}

export function dnsMetrics(registry: Registry): DnsMetrics {
  const served = metricOnce(
    registry,
    'moat_dns_held_failures_total',
    () =>
      new Counter({
        name: 'moat_dns_held_failures_total',
        help: 'Questions answered by a kept resolver failure (SERVFAIL/REFUSED held a few seconds) instead of a query, by kind',
        labelNames: ['kind'],
        registers: [registry],
      }),
  );
  return { heldFailure: (error) => served.inc({ kind: dnsFailureKind(error) }) };
}
