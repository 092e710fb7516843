// The gateway's metrics, registered on the registry it is given (tests pass a fresh one).
import { Counter, Gauge, Histogram, type Registry } from '@moat/observe';

const perRegistry = new WeakMap<Registry, ReturnType<typeof make>>();

/** The gateway's metrics on `registry`, created once per registry (port 25 and 587 share them). */
export function createMxMetrics(registry: Registry): ReturnType<typeof make> {
  const known = perRegistry.get(registry);
  if (known) return known;
  const m = make(registry);
  perRegistry.set(registry, m);
  return m;
}

function make(registry: Registry) {
  const registers = [registry];
  return {
    sessions: new Counter({ name: 'moat_mx_sessions_total', help: 'SMTP sessions accepted (after connection limits)', registers }),
    sessionsActive: new Gauge({ name: 'moat_mx_sessions_active', help: 'SMTP sessions open now', registers }),
    refused: new Counter({
      name: 'moat_mx_connections_refused_total',
      help: 'Connections refused before the greeting, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    tls: new Counter({ name: 'moat_mx_tls_sessions_total', help: 'STARTTLS handshakes completed, by protocol', labelNames: ['version'] as const, registers }),
    auth: new Counter({ name: 'moat_mx_auth_total', help: 'AUTH attempts by result', labelNames: ['result'] as const, registers }),
    rejects: new Counter({
      name: 'moat_mx_rejects_total',
      help: 'SMTP rejects and deferrals by stage and deciding restriction (or gateway check)',
      labelNames: ['stage', 'restriction', 'code'] as const,
      registers,
    }),
    spamScore: new Histogram({
      name: 'moat_mx_spam_score',
      help: 'SpamAssassin scores of scanned messages',
      buckets: [-5, -1, 0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50],
      registers,
    }),
    vouchedHeadersRemoved: new Counter({
      name: 'moat_mx_forged_headers_removed_total',
      help: 'X-Spam-*, X-Moat-DNSBL-Score, X-Moat-DMARC and our Authentication-Results fields removed from mail of untrusted clients',
      labelNames: ['header'] as const,
      registers,
    }),
    spamdFailures: new Counter({ name: 'moat_mx_spamd_failures_total', help: 'spamd calls that failed, by error code', labelNames: ['code'] as const, registers }),
    stress: new Gauge({
      name: 'moat_mx_stress',
      help: '1 while the listener is under stress (sessions near mx.limits.max_connections): short timeouts, tighter limits',
      labelNames: ['listener'] as const,
      registers,
    }),
    stressSwitches: new Counter({
      name: 'moat_mx_stress_switches_total',
      help: 'Stress state changes, by listener and new state (on, off)',
      labelNames: ['listener', 'to'] as const,
      registers,
    }),
    stressDropped: new Counter({
      name: 'moat_mx_stress_dropped_total',
      help: 'Sessions that had not said EHLO, dropped under stress to make room for a new client',
      labelNames: ['listener'] as const,
      registers,
    }),
    longLines: new Counter({
      name: 'moat_mx_long_line_messages_total',
      help: 'Accepted messages with a line over RFC 5321\'s 1,000 octets (accepted unchanged, as Postfix does)',
      registers,
    }),
    messages: new Counter({ name: 'moat_mx_messages_total', help: 'End-of-DATA outcomes', labelNames: ['outcome'] as const, registers }),
    messageBytes: new Histogram({
      name: 'moat_mx_message_bytes',
      help: 'Sizes of messages accepted',
      buckets: [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 83886080],
      registers,
    }),
  };
}

export type MxMetrics = ReturnType<typeof make>;
