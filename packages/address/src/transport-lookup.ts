// The next hop of an address: its class's default transport, changed by a transport_maps entry (transport(5)).
// Trusts its tables and spec; a malformed entry is a NextHopError for the caller to report.
import { parseNextHop } from './next-hop.ts';
import { type Addr, show } from './resolver-input.ts';
import { addrFind, type FindStrategy, mapsFind } from './table-find.ts';
import type { AddressClass, NextHop, ResolverSpec } from './types.ts';

export interface TransportLookup {
  /** The class's default (local_transport, virtual_transport, relay_transport, default_transport). */
  classDefault(cls: AddressClass): NextHop;
  /** transport(5) on top of the class default: `:nexthop` keeps the transport, `transport:` resets the next hop. */
  applyEntry(value: string, base: NextHop, domain: string): NextHop;
  /** The transport_maps entry for an address (user+ext@domain, user@domain, domain, parents, then `*`). */
  transportEntry(a: Addr): { value: string; key: string } | undefined;
  /** The next hop, memoised within one resolve() (asked for the RCPT check, then for delivery). */
  hopFor(a: Addr, cls: AddressClass, trace: string[]): NextHop;
  /** Forgets the memo (tables may be reloaded between calls). */
  reset(): void;
}

export function createTransportLookup(
  spec: ResolverSpec,
  delim: string,
  isLocalForFind: (d: string) => boolean,
  transportStrategy: FindStrategy,
): TransportLookup {
  const classDefault = (cls: AddressClass): NextHop =>
    cls === 'local' ? spec.localTransport : cls === 'virtual-mailbox' ? spec.virtualTransport : cls === 'relay' ? spec.relayTransport : spec.defaultTransport;

  /** transport(5) on top of the class default: `:nexthop` keeps the transport, `transport:` resets the next hop. */
  const applyEntry = (value: string, base: NextHop, domain: string): NextHop => {
    const c = value.indexOf(':');
    const channel = (c < 0 ? value : value.slice(0, c)).trim().toLowerCase();
    const nexthop = (c < 0 ? '' : value.slice(c + 1)).trim();
    let hop: NextHop;
    if (channel === '') {
      if (nexthop === '') return base;
      hop = parseNextHop(`${base.transport}:${nexthop}`);
    } else if (channel === 'local' || channel === 'virtual') {
      // Postfix's local(8)/virtual(8) are moat's own mailbox delivery (local_transport / virtual_transport).
      const own = channel === 'local' ? spec.localTransport : spec.virtualTransport;
      hop = nexthop === '' ? own : parseNextHop(`${own.transport}:${nexthop}`);
    } else if (channel === 'lmtp' && nexthop === '') {
      hop = parseNextHop(`lmtp:${domain}`);
    } else {
      hop = parseNextHop(`${channel}:${nexthop}`);
    }
    return { ...hop, raw: value };
  };

  /** The transport answer within one resolve() (asked for the RCPT check, then for delivery); reset per call. */
  let lastHop: { key: string; cls: AddressClass; hop: NextHop } | undefined;
  const hopFor = (a: Addr, cls: AddressClass, trace: string[]): NextHop => {
    if (spec.transportMaps.length === 0) return classDefault(cls);
    const key = show(a);
    if (lastHop && lastHop.key === key && lastHop.cls === cls) return lastHop.hop;
    const hop = transportOf(a, cls, trace);
    lastHop = { key, cls, hop };
    return hop;
  };
  /** The transport_maps entry for an address (user+ext@domain, user@domain, domain, parents, then `*`). */
  const transportEntry = (a: Addr): { value: string; key: string } | undefined => {
    const found = addrFind(spec.transportMaps, a.local, a.domain, delim, isLocalForFind, transportStrategy);
    if (found) return { value: found.value, key: found.key };
    const value = mapsFind(spec.transportMaps, '*', false);
    return value === undefined ? undefined : { value, key: '*' };
  };
  const transportOf = (a: Addr, cls: AddressClass, trace: string[]): NextHop => {
    const base = classDefault(cls);
    if (spec.transportMaps.length === 0) return base;
    const e = transportEntry(a);
    if (e === undefined) return base;
    trace.push(`transport_maps: ${show(a)} -> ${e.value} (key ${e.key})`);
    return applyEntry(e.value, base, a.domain);
  };
  return { classDefault, applyEntry, transportEntry, hopFor, reset: () => (lastHop = undefined) };
}
