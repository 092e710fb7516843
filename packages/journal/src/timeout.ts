// The journal's one failure of its own: Redis did not answer within the budget (JOURNAL_TIMEOUT).
// Trusts nothing; the late reply is dropped, never unhandled (@moat/redis withTimeout).
import { withTimeout as underBudget } from '@moat/redis';

export class JournalTimeoutError extends Error {
  readonly code = 'JOURNAL_TIMEOUT';
}

export const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  underBudget(p, ms, () => new JournalTimeoutError(`${what}: no reply within ${ms} ms`));
