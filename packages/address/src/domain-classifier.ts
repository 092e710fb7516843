// An address's domain: its Postfix class (local, virtual alias, virtual mailbox, relay, remote), whether it is
// ours for table lookups, and virtual_alias_maps' answers, memoised per domain until a table changes.
// Trusts its spec and tables; the domain is client input.
import { createDomainList } from './domain-list.ts';
import { type KeyShapes, keyShapes, memoByDomain } from './domain-facts.ts';
import type { Addr } from './resolver-input.ts';
import { addrFind, FIND_DEFAULT, type Found, mapsFind } from './table-find.ts';
import type { AddressClass, ResolverSpec } from './types.ts';

/** The answers the resolver keeps per domain (domain-facts.ts). */
interface DomainFacts {
  cls: AddressClass;
  /** MA_FIND_LOCALPART_IF_LOCAL: myorigin, mydestination or one of our address literals. */
  localForFind: boolean;
  /** virtual_alias_maps' `@domain` entry (value undefined: none), once asked. */
  virtualAt: { value: string | undefined } | undefined;
  /** No per-address key of virtual_alias_maps can match in this domain: only `@domain` is asked. */
  virtualAtOnly: boolean;
}

export interface DomainClassifier {
  /** resolve_local(3): mydestination, or one of our address literals. */
  isLocalDomain(d: string): boolean;
  /** MA_FIND_LOCALPART_IF_LOCAL: myorigin too. */
  isLocalForFind(d: string): boolean;
  classOf(d: string): AddressClass;
  /** mail_addr_find on virtual_alias_maps, its `@domain` answer from the domain memo. */
  findVirtual(a: Addr): Found | undefined;
}

export function createDomainClassifier(spec: ResolverSpec, myorigin: string, pdms: ReadonlySet<string>): DomainClassifier {
  const delim = spec.recipientDelimiter;
  const mydest = createDomainList(spec.mydestination, spec.mydestinationMaps ?? [], { kind: 'string' });
  const valiasDomains = createDomainList(spec.virtualAliasDomains, spec.virtualAliasDomainMaps ?? [], { kind: 'string' });
  const vmboxDomains = createDomainList(spec.virtualMailboxDomains, spec.virtualMailboxDomainMaps ?? [], { kind: 'string' });
  const relayDomains = createDomainList(spec.relayDomains, spec.relayDomainMaps ?? [], { kind: 'domain', parent: pdms.has('relay_domains') });
  const literals = new Set((spec.localAddresses ?? []).map((a) => a.toLowerCase()));

  const literalIsOurs = (d: string): boolean => {
    if (!d.startsWith('[') || !d.endsWith(']')) return false;
    return literals.has(d.slice(1, -1).replace(/^ipv6:/, ''));
  };
  /** resolve_local(3): mydestination, or one of our address literals. */
  const isLocalDomain = (d: string): boolean => mydest.match(d) || literalIsOurs(d);

  // Every address of a domain asks the same domain questions: answered once per domain, until a table changes.
  // virtual_alias_maps' key shapes (built again on a reload) tell which domains can have per-address entries.
  let shapes: KeyShapes | undefined | null = null;
  const facts = memoByDomain(
    [...(spec.mydestinationMaps ?? []), ...(spec.virtualAliasDomainMaps ?? []), ...(spec.virtualMailboxDomainMaps ?? []), ...(spec.relayDomainMaps ?? []), ...spec.virtualAliasMaps],
    (d: string): DomainFacts => {
      const local = isLocalDomain(d);
      const cls: AddressClass = local ? 'local' : valiasDomains.match(d) ? 'virtual-alias' : vmboxDomains.match(d) ? 'virtual-mailbox' : relayDomains.match(d) ? 'relay' : 'remote';
      const localForFind = d === myorigin || local;
      if (shapes === null) shapes = spec.virtualAliasMaps.length > 0 ? keyShapes(spec.virtualAliasMaps) : undefined;
      // Only `@domain` can match: no table has user@domain keys, nor (for a local domain) bare user keys.
      const atOnly = shapes !== undefined && !shapes.hasAddressKeys(d) && !(localForFind && shapes.localPartKeys);
      return { cls, localForFind, virtualAt: undefined, virtualAtOnly: atOnly };
    },
    { onChange: () => (shapes = null) },
  );
  /** virtual_alias_maps' `@domain` entry, asked when first needed (a table failure is thrown, not kept). */
  const virtualAt = (d: string): string | undefined => {
    const f = facts.get(d);
    f.virtualAt ??= { value: mapsFind(spec.virtualAliasMaps, `@${d}`, true) };
    return f.virtualAt.value;
  };
  /** MA_FIND_LOCALPART_IF_LOCAL: myorigin too. */
  const isLocalForFind = (d: string): boolean => facts.get(d).localForFind;
  const classOf = (d: string): AddressClass => facts.get(d).cls;
  /** mail_addr_find on virtual_alias_maps, its `@domain` answer from the domain memo. */
  const findVirtual = (a: Addr): Found | undefined => {
    if (facts.get(a.domain).virtualAtOnly) {
      const v = virtualAt(a.domain);
      return v === undefined ? undefined : { value: v, key: `@${a.domain}` };
    }
    return addrFind(spec.virtualAliasMaps, a.local, a.domain, delim, isLocalForFind, FIND_DEFAULT, a.text, virtualAt);
  };
  return { isLocalDomain, isLocalForFind, classOf, findVirtual };
}
