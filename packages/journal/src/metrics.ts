// The decision journal's metrics: appends by result, their latency, and appends Redis has not answered.
// One set per registry (several journals in one process share it); trusts nothing.
import { Counter, Gauge, Histogram, type Registry } from '@moat/observe';

export interface JournalMetrics {
  writes: InstanceType<typeof Counter<'result'>>;
  latency: InstanceType<typeof Histogram<string>>;
  pending: InstanceType<typeof Gauge<string>>;
}

const perRegistry = new WeakMap<Registry, JournalMetrics>();

export function journalMetrics(registry: Registry): JournalMetrics {
  const known = perRegistry.get(registry);
  if (known) return known;
  const m: JournalMetrics = {
    writes: new Counter({
      name: 'moat_journal_writes_total',
      help: 'Decision journal appends by result (ok, timeout, error, unavailable, dropped)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'moat_journal_write_seconds',
      help: 'Time of one journal append (successful ones)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    pending: new Gauge({ name: 'moat_journal_pending', help: 'Journal appends sent and not yet answered by Redis', registers: [registry] }),
  };
  perRegistry.set(registry, m);
  return m;
}
