// The one registry of errors the policy package throws (while parsing admin-written text).
// Verdicts are values and never throw; only malformed configuration does, before any mail flows.

export const POLICY_ERROR_CODES = {
  UNKNOWN_RESTRICTION: 'POLICY_UNKNOWN_RESTRICTION',
  MISSING_ARGUMENT: 'POLICY_MISSING_ARGUMENT',
  BAD_ARGUMENT: 'POLICY_BAD_ARGUMENT',
  BAD_CODE_FILTER: 'POLICY_BAD_CODE_FILTER',
  BAD_CIDR: 'POLICY_BAD_CIDR',
  BAD_ACCESS_ACTION: 'POLICY_BAD_ACCESS_ACTION',
  BAD_SPEC: 'POLICY_BAD_SPEC',
} as const;

export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[keyof typeof POLICY_ERROR_CODES];

/** Where in the admin's text an error is: the item (1-based), and line/column when parsed from text. */
export interface PolicyErrorPosition {
  /** 1-based index of the restriction (or table line) the error is about. */
  index?: number | undefined;
  /** 1-based line and column in the text given to the parser. */
  line?: number | undefined;
  column?: number | undefined;
}

export class PolicyError extends Error {
  readonly code: PolicyErrorCode;
  /** The offending item as written (e.g. `reject_rbl_clinet`, `zen.spamhaus.org=127.0.0.[2..]`). */
  readonly item: string;
  readonly position: PolicyErrorPosition;
  /** The reason alone, without the position prefix (for config error formatting). */
  readonly reason: string;

  constructor(code: PolicyErrorCode, item: string, reason: string, position: PolicyErrorPosition = {}) {
    const where: string[] = [];
    if (position.index !== undefined) where.push(`item ${position.index}`);
    if (position.line !== undefined) where.push(`line ${position.line}${position.column !== undefined ? `:${position.column}` : ''}`);
    super(`${where.length ? `${where.join(', ')}: ` : ''}${JSON.stringify(item)}: ${reason}`);
    this.name = 'PolicyError';
    this.code = code;
    this.item = item;
    this.reason = reason;
    this.position = position;
  }
}
