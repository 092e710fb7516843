// The recent list as the admin reads it: one row per SMTP session with its final outcome (which stage, decided by
// what), its steps (HELO/MAIL/RCPT/DATA decisions) kept for the expanded view. Pure; every field shown is untrusted text.
import type { JournalEntry } from '@moat/journal';

export interface MailSession {
  /** The session id, or the entry id for a decision journaled without one. */
  session: string;
  node: string;
  /** First and last decision times, ms. */
  from: number;
  to: number;
  client: string;
  helo?: string | undefined;
  sender?: string | undefined;
  /** Recipients named in the session's decisions, in order, without repeats. */
  recipients: string[];
  queueIds: string[];
  /** What the session came to: the last decision that was not `continue` (a DATA-stage refusal comes last), else `continue`. */
  final: { action: string; stage: string; decidedBy?: string | undefined; status: string; text: string; reply?: string | undefined };
  /** Decided steps by action (continue left out), e.g. two RCPTs: { permit: 1, reject: 1 }. */
  counts: Record<string, number>;
  /** Every decision, oldest first. */
  steps: JournalEntry[];
}

/** Groups journal entries (any order) into sessions, newest session first, at most `limit`. */
export function groupSessions(entries: readonly JournalEntry[], limit = 50): MailSession[] {
  const bySession = new Map<string, JournalEntry[]>();
  for (const e of entries) {
    const key = e.session ?? e.facts.sessionId ?? `entry:${e.id ?? e.time}`;
    const list = bySession.get(key);
    if (list) list.push(e);
    else bySession.set(key, [e]);
  }
  const out: MailSession[] = [];
  for (const [session, list] of bySession) {
    list.sort((a, b) => a.time - b.time || (a.id ?? '').localeCompare(b.id ?? ''));
    const first = list[0]!;
    const last = list[list.length - 1]!;
    const decided = list.filter((e) => e.verdict.action !== 'continue');
    const end = decided[decided.length - 1] ?? last;
    const counts: Record<string, number> = {};
    for (const e of decided) counts[e.verdict.action] = (counts[e.verdict.action] ?? 0) + 1;
    const recipients = [...new Set(list.flatMap((e) => (e.facts.recipient ? [e.facts.recipient] : [])))];
    const queueIds = [...new Set(list.flatMap((e) => (e.queueId ? [e.queueId] : [])))];
    out.push({
      session: session.startsWith('entry:') ? (first.id ?? session) : session,
      node: first.node,
      from: first.time,
      to: last.time,
      client: first.facts.clientAddress,
      helo: [...list].reverse().find((e) => e.facts.helo)?.facts.helo,
      sender: [...list].reverse().find((e) => e.facts.sender !== undefined)?.facts.sender,
      recipients,
      queueIds,
      final: { action: end.verdict.action, stage: end.facts.stage, decidedBy: end.verdict.decidedBy, status: end.verdict.status, text: end.verdict.text, reply: end.reply },
      counts,
      steps: list,
    });
  }
  return out.sort((a, b) => b.to - a.to).slice(0, limit);
}
