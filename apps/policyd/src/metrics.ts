// policyd's own counters (connections, replies, drops); the engine's decisions are counted by @moat/runtime.
// Trusts nothing: label values are ours (an action's first word, capped), never a client's bytes unbounded.
import type { Registry } from '@moat/observe';
import { Counter, Gauge, type HotCounter, hotCounter } from '@moat/observe';

export interface PolicydMetrics {
  connections: InstanceType<typeof Gauge>;
  accepted: InstanceType<typeof Counter<'outcome'>>;
  /** One per request: hotCounter (no label hashing per reply). */
  replies: HotCounter<'action'>;
  errors: InstanceType<typeof Counter<'reason'>>;
  refused: InstanceType<typeof Counter>;
}

export function policydMetrics(registry: Registry): PolicydMetrics {
  return {
    connections: new Gauge({ name: 'moat_policyd_connections', help: 'Open policy connections', registers: [registry] }),
    accepted: new Counter({
      name: 'moat_policyd_connections_total',
      help: 'Policy connections by outcome (served, or over max_connections)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    replies: hotCounter({
      name: 'moat_policyd_replies_total',
      help: 'Policy replies by Postfix action (first word)',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'moat_policyd_errors_total',
      help: 'Requests or connections dropped, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'moat_policyd_connections_refused_total',
      help: 'Connections from outside policyd.clients, closed before a byte was read',
      registers: [registry],
    }),
  };
}
