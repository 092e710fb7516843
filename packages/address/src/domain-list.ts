// Postfix domain lists (mydestination, virtual_*_domains: string_list; relay_domains: domain_list) as matchers.
// Trusts its entries (config); the domain asked about is client input. Table errors throw LookupFailure.
import type { LookupTable } from '@moat/maps';
import { LookupFailure } from './table-find.ts';

export interface DomainList {
  /** Whether `domain` (already lower case, no trailing dot: splitAddress's form) is listed. Throws LookupFailure. */
  match(domain: string): boolean;
  /** The literal names listed (no tables), for lints and explanations. */
  readonly names: readonly string[];
}

export interface DomainListOptions {
  /**
   * `string`: match_string (mydestination, virtual_alias_domains, virtual_mailbox_domains): the exact
   * name, tables asked the name. `domain`: match_hostname (relay_domains): `.domain` patterns, tables
   * asked the parent domains too, and with `parent` (parent_domain_matches_subdomains lists the
   * parameter) a listed domain also matches its subdomains.
   */
  kind: 'string' | 'domain';
  parent?: boolean | undefined;
}

const norm = (d: string): string => {
  const l = d.trim().toLowerCase();
  return l.length > 1 && l.endsWith('.') ? l.slice(0, -1) : l;
};

/**
 * A domain list from its names (`example.com`, `.example.com`, `!example.com`; first match wins, a
 * `!` match is a no) and tables (asked after the names; the lookup result is ignored, as Postfix does).
 */
export function createDomainList(names: readonly string[], tables: readonly LookupTable[], opts: DomainListOptions): DomainList {
  const entries = names.filter((n) => n.trim() !== '').map((n) => {
    const negate = n.trim().startsWith('!');
    return { negate, name: norm(negate ? n.trim().slice(1) : n) };
  });
  const exact = entries.every((e) => !e.negate) && (opts.kind === 'string' || (!opts.parent && entries.every((e) => !e.name.startsWith('.'))));
  const set = new Set(entries.map((e) => e.name));
  const parent = opts.kind === 'domain' && opts.parent === true;

  const nameMatches = (d: string, p: string): boolean => {
    if (d === p) return true;
    if (opts.kind === 'string') return false;
    if (parent) return d.length > p.length && d.endsWith(p) && d[d.length - p.length - 1] === '.';
    return p.startsWith('.') && d.length > p.length && d.endsWith(p);
  };
  const tableMatches = (t: LookupTable, d: string): boolean => {
    let name = d;
    for (let first = true; ; first = false) {
      if (first || !t.pattern) {
        let v: string | undefined;
        try {
          v = t.lookup(name);
        } catch (e) {
          throw new LookupFailure(t.spec, e);
        }
        if (v !== undefined) return true;
      }
      if (opts.kind === 'string') return false;
      const next = name.indexOf('.', 1);
      if (next < 0) return false;
      name = parent ? name.slice(next + 1) : name.slice(next);
    }
  };

  return {
    names: entries.filter((e) => !e.negate).map((e) => e.name),
    match(d: string): boolean {
      if (d === '') return false;
      if (exact) {
        if (set.has(d)) return true;
      } else {
        for (const e of entries) if (nameMatches(d, e.name)) return !e.negate;
      }
      for (const t of tables) if (tableMatches(t, d)) return true;
      return false;
    },
  };
}
