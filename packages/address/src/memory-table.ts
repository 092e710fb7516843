// A LookupTable held in memory, for what moat's own config lists (recipients.users, queue.transports).
// Trusts its entries (config); keys fold to lower case as Postfix's fixed-string tables do.
import type { LookupTable } from '@moat/maps';

/**
 * A fixed-string table from entries (`pattern: false`: asked the partial keys too). `exactOnly` marks it
 * as a pattern table so domain lists and mail_addr_find ask it the whole key only (no parent domains).
 */
export function createMemoryTable(spec: string, entries: Iterable<readonly [string, string]>, opts: { exactOnly?: boolean } = {}): LookupTable & { keys(): Iterable<string> } {
  const m = new Map<string, string>();
  for (const [k, v] of entries) m.set(k.toLowerCase(), v);
  return {
    spec,
    type: 'inline',
    pattern: opts.exactOnly === true,
    // Most keys arrive in lower case already: one Map probe, no new string (a miss is common: scan, no regex).
    lookup: (key: string) => m.get(key) ?? (foldable(key) ? m.get(key.toLowerCase()) : undefined),
    keys: () => m.keys(),
  };
}

/** Whether lower-casing could change the key (an ASCII capital, or anything beyond ASCII). */
function foldable(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return true;
  }
  return false;
}
