// Virtual alias expansion (Postfix cleanup's mail_addr_map and cleanup_map1n): one address to the list it
// stands for, with Postfix's self-reference rule and limits. Trusts its tables; the address is client input.
import { splitAddressList } from './alias-values.ts';
import { externalForm, splitAddress } from './address-parts.ts';
import { type Addr, Stop, show } from './resolver-input.ts';
import type { Found } from './table-find.ts';

/** Postfix's virtual_alias_address_length_limit: longer alias results stop the expansion. */
const ADDRESS_LENGTH_LIMIT = 1000;

export interface VirtualExpansionOptions {
  /** Whether virtual_alias_maps has any table (none: every address is itself). */
  enabled: boolean;
  myorigin: string;
  recursionLimit: number;
  expansionLimit: number;
  /** mail_addr_find on virtual_alias_maps. */
  findVirtual(a: Addr): Found | undefined;
}

/** cleanup_map1n(3): `matched` when the address itself had an entry; `list` the addresses it expands to. */
export function createVirtualExpander(o: VirtualExpansionOptions): (a: Addr, trace: string[]) => { matched: boolean; list: Addr[] } {
  const { myorigin, recursionLimit, expansionLimit, findVirtual } = o;
  /** mail_addr_map(3) on virtual_alias_maps: the addresses one lookup gives, extension propagated; undefined: no entry. */
  const mapVirtual = (a: Addr, trace: string[]): Addr[] | undefined => {
    const found = findVirtual(a);
    if (!found) return undefined;
    let value = found.value;
    if (value.trim().startsWith('@')) {
      // Domain rewriting: the original user (its unmatched extension removed, then propagated again) @otherdomain.
      value = `${externalForm(found.extension ? found.extension.user : a.local, '')}${value.trim()}`;
    }
    const out: Addr[] = [];
    for (const token of splitAddressList(value)) {
      const p = splitAddress(token);
      let local = p.local;
      if (found.extension) local = `${local}${found.extension.delimiter}${found.extension.extension}`;
      const addr = { local, domain: p.hasDomain && p.domain !== '' ? p.domain : myorigin };
      if (show(addr).length > ADDRESS_LENGTH_LIMIT) {
        throw new Stop('too-many', '5.4.6', `Alias expansion error: a virtual_alias_maps result is longer than ${ADDRESS_LENGTH_LIMIT} characters`);
      }
      out.push(addr);
    }
    trace.push(`virtual_alias_maps: ${show(a)} -> ${out.map(show).join(', ') || '(nothing)'} (key ${found.key})`);
    if (out.length === 0) throw new Stop('empty-expansion', '5.1.1', `Alias expansion error: ${show(a)} expands to no address`);
    return out;
  };

  /** cleanup_map1n(3): recursive virtual alias expansion with Postfix's self-reference rule and limits. */
  const expandVirtual = (a: Addr, trace: string[]): { matched: boolean; list: Addr[] } => {
    if (!o.enabled) return { matched: false, list: [a] };
    const argv: Addr[] = [a];
    const been = new Set<string>();
    let matched = false;
    for (let arg = 0; arg < argv.length; arg++) {
      if (argv.length > expansionLimit) {
        throw new Stop('too-many', '5.4.6', `Alias expansion error: more than virtual_alias_expansion_limit (${expansionLimit}) addresses`);
      }
      for (let count = 0; ; count++) {
        const cur = argv[arg] as Addr;
        if (been.has(show(cur).toLowerCase())) break;
        if (count >= recursionLimit) {
          throw new Stop('loop', '5.4.6', `Alias expansion error: virtual_alias_maps nesting deeper than virtual_alias_recursion_limit (${recursionLimit}), an alias loop?`);
        }
        const lookup = mapVirtual(cur, trace);
        if (!lookup) break;
        if (arg === 0 && count === 0) matched = true;
        const lhs = show(cur).toLowerCase();
        lookup.forEach((r, i) => {
          if (i === 0) argv[arg] = r;
          else argv.push(r);
          // An address may expand into itself once: it is then kept, not expanded again.
          if (show(r).toLowerCase() === lhs) been.add(lhs);
        });
      }
    }
    return { matched, list: argv };
  };
  return expandVirtual;
}
