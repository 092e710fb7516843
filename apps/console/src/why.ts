// The "Why?" view's address resolution: each journaled RCPT (or later) decision gets its recipient's class,
// rewrites and next hop beside the trace. Trusts runtime's resolver; the recipients are client input, sent as JSON data.
import type { JournalEntry } from '@moat/journal';
import type { AddressExplanation } from '@moat/runtime';

/** A journal entry as /api/decisions sends it: the recorded decision, and how the current config resolves its recipient. */
export type ExplainedEntry = JournalEntry & { resolution?: AddressExplanation | undefined };

const BEFORE_RCPT = new Set(['connect', 'helo', 'mail']);

/**
 * Adds `resolution` to each decision that has a recipient (RCPT and later stages), resolved now by the
 * resolver mx delivers with (the journal keeps verdicts, not routes). One resolution per distinct recipient.
 */
export function withResolution(entries: readonly JournalEntry[], explain: (address: string) => AddressExplanation): ExplainedEntry[] {
  const seen = new Map<string, AddressExplanation>();
  return entries.map((e) => {
    const rcpt = e.facts.recipient;
    if (!rcpt || BEFORE_RCPT.has(e.facts.stage)) return e;
    let r = seen.get(rcpt);
    if (!r) {
      r = explain(rcpt);
      seen.set(rcpt, r);
    }
    return { ...e, resolution: r };
  });
}
