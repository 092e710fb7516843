// One structured log line and two metrics per engine decision, shared by mx and policyd.
// Facts are untrusted client input: they go under their own keys, never into `msg`, and are length-capped.
import type { Logger, Registry } from '@moat/observe';
import { Counter, Histogram, infoLine } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';

export interface DecisionMetrics {
  decisions: InstanceType<typeof Counter<'restriction' | 'action'>>;
  latency: InstanceType<typeof Histogram<'stage' | 'action'>>;
}

const perRegistry = new WeakMap<Registry, DecisionMetrics>();

/** The decision counters on `registry` (created once per registry, so two callers can share it). */
export function createDecisionMetrics(registry: Registry): DecisionMetrics {
  const known = perRegistry.get(registry);
  if (known) return known;
  const metrics: DecisionMetrics = {
    decisions: new Counter({
      name: 'moat_decisions_total',
      help: 'Engine decisions by deciding restriction and action',
      labelNames: ['restriction', 'action'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'moat_decision_duration_seconds',
      help: 'Wall time of one engine decision, ports included',
      labelNames: ['stage', 'action'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
  perRegistry.set(registry, metrics);
  return metrics;
}

const cap = (s: string | undefined, n = 512): string | undefined =>
  s === undefined ? undefined : s.length > n ? `${s.slice(0, n)}...` : s;

/**
 * The metric label for a verdict: the deciding restriction as the admin wrote it (bounded by the
 * config, not by clients), `none` when nothing decided.
 */
export function restrictionLabel(verdict: Verdict): string {
  return cap(verdict.decidedBy, 120) ?? 'none';
}

export interface DecisionExtras {
  /** The caller's wall time for the decision; default: the sum of the trace's restriction times. */
  ms?: number | undefined;
  /** What the edge answered (SMTP reply or Postfix policy action), chosen there, logged here. */
  reply?: string | undefined;
  /** The queue id, when the message is already queued (Postfix sends it to policyd). */
  queueId?: string | undefined;
  /** Also hand the decision to this sink (the decision journal, @moat/journal); it must not block. */
  sink?: DecisionSink | undefined;
}

/** Where a decision goes besides the log (the journal). Must return at once; a throw is swallowed. */
export interface DecisionSink {
  record(facts: Facts, verdict: Verdict, extras: { ms?: number | undefined; reply?: string | undefined; queueId?: string | undefined }): void;
}

/**
 * The weighted DNS lists' sum and each list's part (the trace reason of reject_dnsbl_score or
 * permit_dnsbl_score, the last one evaluated), when the decision asked them; the line carries it even
 * when the score did not decide.
 */
export function dnsblScoreOf(verdict: Verdict): string | undefined {
  const trace = verdict.trace;
  for (let i = trace.length - 1; i >= 0; i--) {
    const r = trace[i]!.restriction;
    if (r.length === 18 && (r === 'reject_dnsbl_score' || r === 'permit_dnsbl_score')) return trace[i]!.reason;
  }
  return undefined;
}

/** Log one decision (one JSON line, level info) and count it. */
export function recordDecision(
  logger: Logger,
  metrics: DecisionMetrics,
  facts: Facts,
  verdict: Verdict,
  extras: DecisionExtras = {},
): void {
  const took = extras.ms ?? verdict.trace.reduce((sum, t) => sum + t.ms, 0);
  const restriction = restrictionLabel(verdict);
  metrics.decisions.inc({ restriction, action: verdict.action });
  metrics.latency.observe({ stage: facts.stage, action: verdict.action }, took / 1000);
  if (extras.sink) {
    try {
      extras.sink.record(facts, verdict, { ms: took, reply: extras.reply, queueId: extras.queueId });
    } catch {
      // The journal fails open: a decision is never lost or delayed because it could not be journaled.
    }
  }
  if (!logger.isLevelEnabled('info')) return;
  // The hot path of every component: pino's line, serialised natively (a flat record, no secrets).
  infoLine(
    logger,
    {
      event: 'decision',
      stage: facts.stage,
      action: verdict.action,
      status: verdict.status,
      restriction: verdict.decidedBy,
      restrictionType: verdict.decidedByType,
      greylisted: verdict.greylisted || undefined,
      client: facts.clientAddress,
      clientName: cap(facts.clientName),
      helo: cap(facts.helo),
      sender: cap(facts.sender),
      recipient: cap(facts.recipient),
      saslUsername: cap(facts.saslUsername),
      session: cap(facts.sessionId, 64),
      queueId: cap(extras.queueId, 64),
      text: cap(verdict.text),
      dnsblScore: cap(dnsblScoreOf(verdict)),
      reply: cap(extras.reply),
      ms: Math.round(took * 1000) / 1000,
    },
    'decision',
  );
}
