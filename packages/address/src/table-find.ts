// Postfix's mail_addr_find(3) and maps_find(3) over moat's LookupTables: which keys are asked, in which order.
// Trusts the tables' answers; a table that throws becomes a LookupFailure (a temporary error, never "not found").
import type { LookupTable } from '@moat/maps';
import { type Extension, quoteLocal, splitExtension } from './address-parts.ts';

/** A table could not answer: Postfix's "Temporary lookup failure" (451 4.3.0), never a reject. */
export class LookupFailure extends Error {
  readonly code = 'LOOKUP_FAILURE';
  /** The spec of the table that failed, e.g. `hash:/etc/postfix/virtual`. */
  readonly table: string;
  constructor(table: string, cause: unknown) {
    super(`${table}: lookup failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LookupFailure';
    this.table = table;
  }
}

/**
 * maps_find(3): asks each table in order, first answer wins. `partial` keys (user, @domain, domain)
 * skip pattern tables (regexp, pcre, cidr), as Postfix's DICT_FLAG_FIXED does.
 */
export function mapsFind(tables: readonly LookupTable[], key: string, partial: boolean): string | undefined {
  for (const t of tables) {
    if (partial && t.pattern) continue;
    let v: string | undefined;
    try {
      v = t.lookup(key);
    } catch (e) {
      throw new LookupFailure(t.spec, e);
    }
    if (v !== undefined) return v;
  }
  return undefined;
}

/** mail_addr_find strategy bits (mail_addr_find.h), as booleans. */
export interface FindStrategy {
  full?: boolean;
  noext?: boolean;
  /** user+ext and user, when the domain is local (myorigin, mydestination, our address literals). */
  localpartIfLocal?: boolean;
  atDomain?: boolean;
  /** domain, then parents: `pdms` (example.com, com) or `pddms` (.example.com, .com). */
  domain?: 'exact' | 'pdms' | 'pddms';
}

export const FIND_DEFAULT: FindStrategy = { full: true, noext: true, localpartIfLocal: true, atDomain: true };

export interface Found {
  value: string;
  /** The extension that had to be removed for the key to match (the unmatched extension). */
  extension?: Extension | undefined;
  /** The key that matched, for traces. */
  key: string;
}

/**
 * mail_addr_find(3) for an internal-form address (`local` unquoted). External (quoted) keys are asked
 * first, then the internal form when it differs (MA_FORM_EXTERNAL_FIRST). Throws LookupFailure.
 */
export function addrFind(
  tables: readonly LookupTable[],
  local: string,
  domain: string,
  delimiters: string,
  isLocal: (domain: string) => boolean,
  strategy: FindStrategy,
  /** The full address in external form when the caller already has it as one string (saves building it). */
  fullKey?: string,
  /** Answers the `@domain` key for the caller (a per-domain memo); default: the tables are asked. */
  atDomain?: (domain: string) => string | undefined,
): Found | undefined {
  if (tables.length === 0) return undefined;
  const ask = (l: string, withDomain: boolean, partial: boolean) => askKey(tables, l, domain, withDomain, partial);
  let r: Found | undefined;
  if (strategy.full) {
    if (fullKey !== undefined) {
      const v = mapsFind(tables, fullKey, false);
      r = v === undefined ? undefined : { value: v, key: fullKey };
    } else r = ask(local, true, false);
  }
  if (r) return r;
  // Split only when the full address did not match (most lookups of a plain address end above).
  const ext = strategy.noext && delimiters !== '' ? splitExtension(local, delimiters) : undefined;
  if (ext) {
    r = ask(ext.user, true, true);
    if (r) r.extension = ext;
  }
  if (!r && strategy.localpartIfLocal && domain !== '' && isLocal(domain)) {
    r = ask(local, false, true);
    if (!r && ext) {
      r = ask(ext.user, false, true);
      if (r) r.extension = ext;
    }
  }
  if (!r && strategy.atDomain && domain !== '') {
    const v = atDomain !== undefined ? atDomain(domain) : mapsFind(tables, `@${domain}`, true);
    if (v !== undefined) r = { value: v, key: `@${domain}` };
  }
  if (!r && strategy.domain && domain !== '') {
    let name = domain;
    for (;;) {
      const v = mapsFind(tables, name, true);
      if (v !== undefined) return { value: v, key: name };
      if (strategy.domain === 'exact') break;
      const next = name.indexOf('.', 1);
      if (next < 0) break;
      name = strategy.domain === 'pddms' ? name.slice(next) : name.slice(next + 1);
    }
  }
  return r;
}

/** One key in its external (quoted) form, then its internal form when that differs. */
function askKey(tables: readonly LookupTable[], l: string, domain: string, withDomain: boolean, partial: boolean): Found | undefined {
  const ql = quoteLocal(l);
  const k1 = withDomain ? `${ql}@${domain}` : ql;
  let v = mapsFind(tables, k1, partial);
  if (v !== undefined) return { value: v, key: k1 };
  if (ql === l) return undefined;
  const k2 = withDomain ? `${l}@${domain}` : l;
  v = mapsFind(tables, k2, partial);
  return v === undefined ? undefined : { value: v, key: k2 };
}
