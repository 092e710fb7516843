// When a message is retried, warned about or given up on: backoff, queue lifetime and the delay-warning time.
// Trusts the envelope's arrival and release stamps (written by the spool and the quarantine).
import type { Envelope } from '../record.ts';

/**
 * Where the queue lifetime and the delay warning count from: a message released from the quarantine starts
 * its queue life at its release (it waited for an operator, not for a next hop: no instant bounce of a
 * 20-day-old release, no delay warning to a sender who never waited on us).
 */
export const queuedSince = (env: Envelope): number => env.released?.time ?? env.arrival;

/** Postfix's backoff: the first retry after `first`, doubling per attempt up to `max`. */
export function backoffFor(attempts: number, first: number, max: number): number {
  return Math.min(max, first * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
}

