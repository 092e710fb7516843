// What a parsed table is inside moat: a lookup over one snapshot of its source, and what loading it found.
// Trusts nothing beyond what its parser checked; a registry swaps snapshots on reload.

export interface Parsed {
  /** Entries (fixed tables) or rules (pattern tables), for the entries gauge. */
  entries: number;
  /** Lines Postfix accepts with a warning (duplicate key, `key:` format): logged, not fatal. */
  warnings: ReadonlyArray<{ line: number; message: string }>;
  lookup(key: string): string | undefined;
  /**
   * Every right-hand side as written, with its line (substitutions not expanded), for validation; fixed-string
   * tables give each one's key too (folded as looked up), for static checks that need to know what it answers.
   */
  values(): ReadonlyArray<{ value: string; line: number; key?: string | undefined }>;
}
