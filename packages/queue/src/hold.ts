// A held message's reason in its envelope meta: the seam between end-of-DATA checks that quarantine
// (mx: DMARC, SpamAssassin's quarantine band) and the queue that keeps it. Pure.
import type { QueueHold } from './types.ts';

/** The envelope meta keys a hold is recorded under. */
export const HOLD_META_KEYS = { check: 'hold_check', reason: 'hold_reason', score: 'hold_score' } as const;

/** The meta entries that record `hold` (none without one). */
export function holdMeta(hold: QueueHold | undefined): Record<string, string> {
  if (!hold) return {};
  return {
    [HOLD_META_KEYS.check]: hold.check,
    [HOLD_META_KEYS.reason]: hold.reason,
    ...(hold.score !== undefined ? { [HOLD_META_KEYS.score]: String(hold.score) } : {}),
  };
}
