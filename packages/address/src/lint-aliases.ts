// Static checks of alias and transport tables for `moat config check`: loops, limits, what moat cannot deliver.
// Trusts the spec; asks each table that can list its keys (a `keys()` method), skips the others and says so.
import type { LookupTable } from '@moat/maps';
import { errorBounceStatus, errorRefusalStatus, retryDeferStatus, retryRefusalStatus } from './error-hop.ts';
import { NextHopError, parseNextHop } from './next-hop.ts';
import { splitAliasValue } from './alias-values.ts';
import { createAddressResolver } from './resolver.ts';
import type { ResolverSpec } from './types.ts';

export interface AliasProblem {
  severity: 'error' | 'warning';
  /** The parameter and table spec, e.g. `virtual_alias_maps texthash:/etc/moat/virtual`. */
  table: string;
  /** The key whose expansion is wrong ('' for the table as a whole). */
  key: string;
  message: string;
}

type Listable = LookupTable & { keys(): Iterable<string> };
const listable = (t: LookupTable): t is Listable => typeof (t as Partial<Listable>).keys === 'function';

/** A local part no table has (to probe `@domain` keys); never a real user. */
const PROBE = 'moat-lint-probe';

/**
 * Resolves every key of virtual_alias_maps and alias_maps as the resolver would at run time and reports
 * the expansions that can never be delivered: loops and nesting past virtual_alias_recursion_limit,
 * fan-outs past virtual_alias_expansion_limit (both 5.4.6 at run time), expansions to nothing, and
 * alias_maps entries naming |commands, /files or :include: (moat has no local(8)). Pattern tables and
 * tables that cannot list their keys are not checked (a warning says so). Never throws.
 */
export function lintAliases(spec: ResolverSpec): AliasProblem[] {
  const out: AliasProblem[] = [];
  const resolver = createAddressResolver(spec);
  const localDomain = spec.mydestination.find((d) => !d.startsWith('!') && !d.startsWith('.')) ?? spec.myhostname;
  const probe = (table: string, key: string, address: string) => {
    const r = resolver.resolve(address);
    if (r.ok || r.reason === 'unknown-user' || r.reason === 'retry') return;
    out.push({ severity: r.reason === 'lookup-failure' ? 'warning' : 'error', table, key, message: `${address}: ${r.status} ${r.text}` });
  };
  const each = (param: string, tables: readonly LookupTable[], visit: (name: string, key: string, value: string | undefined) => void) => {
    for (const t of tables) {
      const name = `${param} ${t.spec}`;
      if (t.pattern || !listable(t)) {
        out.push({ severity: 'warning', table: name, key: '', message: 'not checked for loops (a pattern table, or one that cannot list its keys)' });
        continue;
      }
      let keys: string[];
      try {
        keys = [...t.keys()];
      } catch (e) {
        out.push({ severity: 'warning', table: name, key: '', message: `not checked: ${(e as Error).message}` });
        continue;
      }
      for (const key of keys) {
        let value: string | undefined;
        try {
          value = t.lookup(key);
        } catch {
          value = undefined;
        }
        visit(name, key, value);
      }
    }
  };
  each('virtual_alias_maps', spec.virtualAliasMaps, (name, key) => {
    if (key.startsWith('@')) probe(name, key, `${PROBE}${key}`);
    else if (key.includes('@')) probe(name, key, key);
    else probe(name, key, `${key}@${localDomain}`);
  });
  each('alias_maps', spec.aliasMaps, (name, key, value) => {
    for (const token of splitAliasValue(value ?? '')) {
      if (/^(\||\/|:include:)/i.test(token)) out.push({ severity: 'error', table: name, key, message: `${token}: moat does not deliver to commands, files or :include: lists` });
    }
    probe(name, key, `${key}@${localDomain}`);
  });
  return out;
}

/** The key lintTransportMaps names for a `static:` table's one value (it answers every key). */
export const EVERY_KEY = '*';

/**
 * Every transport_maps value must parse as a transport moat delivers with (else that mail defers, 4.3.0); `error:` /
 * `retry:` entries whose status class Postfix overrides are warned about. Tables that list their keys are checked
 * entry by entry, a `static:` table's one value as EVERY_KEY; a table that cannot be listed (regexp, pcre, cidr) gets
 * one warning saying it was not checked (its entries meet the run-time checks).
 */
export function lintTransportMaps(spec: ResolverSpec): AliasProblem[] {
  const out: AliasProblem[] = [];
  for (const t of spec.transportMaps) {
    const isStatic = t.type === 'static';
    if (!isStatic && (t.pattern || !listable(t))) {
      out.push({ severity: 'warning', table: `transport_maps ${t.spec}`, key: '', message: 'not checked (a pattern table, or one that cannot list its keys): its entries are checked when mail meets them' });
      continue;
    }
    let keys: string[];
    try {
      keys = isStatic ? [EVERY_KEY] : [...(t as Listable).keys()];
    } catch (e) {
      out.push({ severity: 'warning', table: `transport_maps ${t.spec}`, key: '', message: `not checked: ${(e as Error).message}` });
      continue;
    }
    for (const key of keys) {
      let value: string | undefined;
      try {
        value = t.lookup(key);
      } catch {
        continue;
      }
      if (value === undefined) continue;
      const c = value.indexOf(':');
      const channel = (c < 0 ? value : value.slice(0, c)).trim().toLowerCase();
      const nexthop = c < 0 ? '' : value.slice(c + 1).trim();
      if (channel === '' || channel === 'local' || channel === 'virtual') continue;
      if ((channel === 'lmtp' || channel === 'maildir') && nexthop === '') {
        if (channel === 'maildir') out.push({ severity: 'error', table: `transport_maps ${t.spec}`, key, message: `${value}: maildir needs a path` });
        continue;
      }
      try {
        const hop = parseNextHop(`${channel}:${nexthop}`);
        // Postfix takes these too, but its smtpd refuses them as 550 5.x.x (smtpd_dsn_fix then fits X.1.Y to a
        // recipient) and error(8) bounces them as 5.0.0: a 4.x.x entry never defers, a 2.x.x one never accepts.
        // Said, not refused (moat does as Postfix does); the statuses are the ones mx and delivery use.
        if (hop.transport === 'error' && hop.status !== undefined && !hop.status.startsWith('5')) {
          const refused = errorRefusalStatus(hop.status, 'recipient');
          const bounced = errorBounceStatus(hop.status);
          out.push({ severity: 'warning', table: `transport_maps ${t.spec}`, key, message: `${value}: error: refuses at RCPT with 550 ${refused} and bounces at delivery with ${bounced}, as Postfix does; write a 5.x.x status${hop.status.startsWith('4') ? ' (retry: defers)' : ''}` });
        }
        // retry(8) likewise: smtpd answers 450 4.x.x and delivery defers as 4.0.0, whatever class was written
        if (hop.transport === 'retry' && hop.status !== undefined && !hop.status.startsWith('4')) {
          const refused = retryRefusalStatus(hop.status, 'recipient');
          out.push({ severity: 'warning', table: `transport_maps ${t.spec}`, key, message: `${value}: retry: refuses at RCPT with 450 ${refused} and defers at delivery with ${retryDeferStatus(hop.status)}, as Postfix does; write a 4.x.x status${hop.status.startsWith('5') ? ' (error: bounces)' : ''}` });
        }
      } catch (e) {
        if (e instanceof NextHopError) out.push({ severity: 'error', table: `transport_maps ${t.spec}`, key, message: e.message });
        else throw e;
      }
    }
  }
  return out;
}
