// Where moat answers differently from Postfix on purpose, and why. The suite fails on any difference not
// listed here, and on an entry that no longer matches anything (so the table stays true).
import type { Case } from './cases.ts';

export interface KnownDifference {
  field: 'rcpt' | 'data' | 'dest';
  matches(c: Case): boolean;
  /** The exact outcomes, when the difference is about one pair of answers. */
  postfix?: string | undefined;
  moat?: string | undefined;
  reason: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [];
