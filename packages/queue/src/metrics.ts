// The queue's Prometheus metrics, registered once per registry (queue and runners may share one).
// Trusts nothing; counts what the queue decides and fails at.
import { Counter, Gauge, Histogram, metricOnce as once, type Registry } from '@moat/observe';

/** The registry's metric of this name, or a new one (several queue handles may share a registry). */
export { once };

export interface QueueMetrics {
  enqueued: InstanceType<typeof Counter>;
  corrupt: InstanceType<typeof Counter>;
  tmpSwept: InstanceType<typeof Counter>;
  quarantined: InstanceType<typeof Counter>;
}

export function queueMetrics(registry: Registry, countStates: () => Promise<Record<string, number>>): QueueMetrics {
  once(
    registry,
    'moat_queue_messages',
    () =>
      new Gauge({
        name: 'moat_queue_messages',
        help: 'Messages in the queue by state (directory)',
        labelNames: ['state'],
        registers: [registry],
        async collect() {
          const counts = await countStates();
          for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
        },
      }),
  );
  return {
    enqueued: once(
      registry,
      'moat_queue_enqueued_total',
      () => new Counter({ name: 'moat_queue_enqueued_total', help: 'Messages durably enqueued', registers: [registry] }),
    ),
    corrupt: once(
      registry,
      'moat_queue_corrupt_total',
      () =>
        new Counter({ name: 'moat_queue_corrupt_total', help: 'Queue files moved to corrupt/', registers: [registry] }),
    ),
    tmpSwept: once(
      registry,
      'moat_queue_tmp_swept_total',
      () =>
        new Counter({ name: 'moat_queue_tmp_swept_total', help: 'Files of dead transactions removed from tmp/ at start', registers: [registry] }),
    ),
    quarantined: once(
      registry,
      'moat_quarantine_held_total',
      () =>
        new Counter({ name: 'moat_quarantine_held_total', help: 'Messages written into the quarantine (hold/) by the deciding check', labelNames: ['check'], registers: [registry] }),
    ),
  };
}

export interface DeliveryMetrics {
  deliveries: InstanceType<typeof Counter>;
  latency: InstanceType<typeof Histogram>;
  bounces: InstanceType<typeof Counter>;
  alerts: InstanceType<typeof Counter>;
}

export function deliveryMetrics(registry: Registry): DeliveryMetrics {
  return {
    deliveries: once(
      registry,
      'moat_queue_deliveries_total',
      () =>
        new Counter({
          name: 'moat_queue_deliveries_total',
          help: 'Per-recipient delivery attempts by transport and result (sent, deferred, bounced)',
          labelNames: ['transport', 'result'],
          registers: [registry],
        }),
    ),
    latency: once(
      registry,
      'moat_queue_delivery_seconds',
      () =>
        new Histogram({
          name: 'moat_queue_delivery_seconds',
          help: 'Arrival to final delivery per recipient, seconds',
          labelNames: ['transport'],
          buckets: [0.01, 0.05, 0.25, 1, 5, 30, 300, 3600, 86400, 604800],
          registers: [registry],
        }),
    ),
    bounces: once(
      registry,
      'moat_queue_bounces_total',
      () =>
        new Counter({
          name: 'moat_queue_bounces_total',
          help: 'DSNs by kind: failed (bounce), delayed (warning), dropped (null sender, not sent)',
          labelNames: ['kind'],
          registers: [registry],
        }),
    ),
    alerts: once(
      registry,
      'moat_queue_delivery_alerts_total',
      () =>
        new Counter({
          name: 'moat_queue_delivery_alerts_total',
          help: 'Recipients kept queued because of a configuration problem (e.g. a remote domain routed to a maildir), by transport and reason',
          labelNames: ['transport', 'reason'],
          registers: [registry],
        }),
    ),
  };
}
