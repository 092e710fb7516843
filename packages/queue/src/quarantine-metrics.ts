// The quarantine's Prometheus metrics: operator actions by result, damaged held files, expiries, learning.
// Trusts nothing; counts what the quarantine decides and fails at (the held count is moat_queue_messages{state="hold"}).
import { Counter, type Registry } from '@moat/observe';
import { once } from './metrics.ts';

export interface QuarantineMetrics {
  actions: InstanceType<typeof Counter>;
  corrupt: InstanceType<typeof Counter>;
  expired: InstanceType<typeof Counter>;
  learned: InstanceType<typeof Counter>;
}

export function quarantineMetrics(registry: Registry): QuarantineMetrics {
  return {
    actions: once(
      registry,
      'moat_quarantine_actions_total',
      () =>
        new Counter({
          name: 'moat_quarantine_actions_total',
          help: 'Quarantine actions (release, delete, expire, show) by result (ok, corrupt)',
          labelNames: ['action', 'result'],
          registers: [registry],
        }),
    ),
    corrupt: once(
      registry,
      'moat_quarantine_corrupt_total',
      () => new Counter({ name: 'moat_quarantine_corrupt_total', help: 'Held messages that failed their checksum, moved to corrupt/', registers: [registry] }),
    ),
    expired: once(
      registry,
      'moat_quarantine_expired_total',
      () => new Counter({ name: 'moat_quarantine_expired_total', help: 'Held messages removed after quarantine.retention', registers: [registry] }),
    ),
    learned: once(
      registry,
      'moat_quarantine_learned_total',
      () =>
        new Counter({
          name: 'moat_quarantine_learned_total',
          help: 'Messages taught to the spam filter from the quarantine, by class (spam, ham) and result',
          labelNames: ['as', 'result'],
          registers: [registry],
        }),
    ),
  };
}
