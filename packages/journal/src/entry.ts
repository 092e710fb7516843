// One journal entry: a decision's facts, its verdict with the full trace, and where/when it was made.
// Facts are untrusted client input: every string is length-capped before it is stored; decode trusts nothing it reads back.
import type { Facts, TraceEntry, Verdict } from '@moat/policy';

export interface JournalEntry {
  /** The stream id Redis gave the entry (`<ms>-<seq>`); absent before it is written. */
  id?: string | undefined;
  /** When the decision was made, ms since the epoch (the deciding node's clock). */
  time: number;
  /** The node (host) that decided. */
  node: string;
  /** The SMTP session (gateway) or policy request's instance/session id. */
  session?: string | undefined;
  /** The queue id, when the message was already queued (Postfix) or linked later. */
  queueId?: string | undefined;
  facts: Facts;
  verdict: Verdict;
  /** What the edge answered (SMTP reply or policy action). */
  reply?: string | undefined;
  /** Wall time of the decision, ms. */
  ms?: number | undefined;
}

const FACT_CAP = 512;
const TEXT_CAP = 1024;
const TRACE_CAP = 200;

const cap = (s: string | undefined, n: number): string | undefined =>
  s === undefined || s === null ? undefined : typeof s !== 'string' ? String(s).slice(0, n) : s.length > n ? `${s.slice(0, n)}...` : s;

function capFacts(f: Facts): Facts {
  return {
    stage: f.stage,
    clientAddress: cap(f.clientAddress, 64) ?? '',
    clientName: cap(f.clientName, FACT_CAP),
    reverseClientName: cap(f.reverseClientName, FACT_CAP),
    helo: cap(f.helo, FACT_CAP),
    sender: cap(f.sender, FACT_CAP),
    rawSender: cap(f.rawSender, FACT_CAP),
    recipient: cap(f.recipient, FACT_CAP),
    rawRecipient: cap(f.rawRecipient, FACT_CAP),
    saslUsername: cap(f.saslUsername, FACT_CAP),
    tls: f.tls === true,
    sessionId: cap(f.sessionId, 128),
  };
}

function capTrace(t: TraceEntry): TraceEntry {
  return { restriction: cap(t.restriction, 256) ?? '', list: t.list, outcome: t.outcome, reason: cap(t.reason, FACT_CAP), ms: t.ms };
}

function capVerdict(v: Verdict): Verdict {
  return {
    action: v.action,
    status: cap(v.status, 16) ?? '',
    text: cap(v.text, TEXT_CAP) ?? '',
    decidedBy: cap(v.decidedBy, 256),
    decidedByType: v.decidedByType,
    greylisted: v.greylisted || undefined,
    smtpCode: v.smtpCode,
    prepend: v.prepend.slice(0, 10).map((p) => cap(p, TEXT_CAP) ?? ''),
    trace: v.trace.slice(0, TRACE_CAP).map(capTrace),
  };
}

/** The JSON stored in the stream's `j` field (ids and lengths capped). */
export function encodeEntry(e: JournalEntry): string {
  return JSON.stringify({
    v: 1,
    time: e.time,
    node: cap(e.node, 128),
    session: cap(e.session, 128),
    queueId: cap(e.queueId, 128),
    facts: capFacts(e.facts),
    verdict: capVerdict(e.verdict),
    reply: cap(e.reply, TEXT_CAP),
    ms: e.ms,
  });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse a stored entry; undefined when it is not one (another writer, a damaged field). */
export function decodeEntry(id: string, json: string | undefined): JournalEntry | undefined {
  if (json === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObj(raw) || raw.v !== 1 || !isObj(raw.facts) || !isObj(raw.verdict) || !Array.isArray((raw.verdict as { trace?: unknown }).trace)) {
    return undefined;
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    id,
    time: typeof raw.time === 'number' ? raw.time : Number(id.split('-')[0]),
    node: str(raw.node) ?? '?',
    session: str(raw.session),
    queueId: str(raw.queueId),
    facts: raw.facts as unknown as Facts,
    verdict: raw.verdict as unknown as Verdict,
    reply: str(raw.reply),
    ms: typeof raw.ms === 'number' ? raw.ms : undefined,
  };
}
