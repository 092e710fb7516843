// The journal's own failures: Redis did not answer within the budget (JOURNAL_TIMEOUT), answered one write
// with an error (JOURNAL_WRITE), or the options cannot work (JOURNAL_CONFIG, at creation). Trusts nothing; the late reply is dropped, never unhandled (@moat/redis withTimeout).
import { withTimeout as underBudget } from '@moat/redis';

export class JournalTimeoutError extends Error {
  readonly code = 'JOURNAL_TIMEOUT';
}

/** Redis refused one write of a batch (e.g. WRONGTYPE on its key); the batch's other writes stand. */
export class JournalWriteError extends Error {
  readonly code = 'JOURNAL_WRITE';
}

/** Options that cannot work, found at creation (e.g. a prefix without a hash tag on Redis Cluster). */
export class JournalConfigError extends Error {
  readonly code = 'JOURNAL_CONFIG';
}

export const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  underBudget(p, ms, () => new JournalTimeoutError(`${what}: no reply within ${ms} ms`));
