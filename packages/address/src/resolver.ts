// The address resolver: Postfix's trivial-rewrite (class, transport), cleanup (virtual_alias_maps), smtpd
// (recipient tables) and local(8) (alias_maps) in one pure function. Trusts its spec; the address is client input.
import type { LookupTable } from '@moat/maps';
import { smtpdDsnFix } from '@moat/policy';
import { externalForm, plainAddressAt, quoteLocal, splitAddress, splitExtension } from './address-parts.ts';
import { createDomainList } from './domain-list.ts';
import { NextHopError, parseNextHop } from './next-hop.ts';
import { splitAddressList, splitAliasValue } from './alias-values.ts';
import { type KeyShapes, keyShapes, memoByDomain, specTables } from './domain-facts.ts';
import { addrFind, FIND_DEFAULT, type FindStrategy, type Found, LookupFailure, mapsFind } from './table-find.ts';
import type { AddressClass, AddressResolver, FinalRecipient, NextHop, Resolution, ResolverSpec, Route, Verification } from './types.ts';

/** Postfix's parent_domain_matches_subdomains default (mail_params.h DEF_PAR_DOM_MATCH). */
export const DEFAULT_PARENT_DOMAIN_MATCHES_SUBDOMAINS: readonly string[] = [
  'debug_peer_list',
  'fast_flush_domains',
  'mynetworks',
  'permit_mx_backup_networks',
  'qmqpd_authorized_clients',
  'relay_domains',
  'smtpd_access_maps',
];

/** verify()'s acceptances, one per class (the common answer, not built per RCPT). */
const ACCEPTED: Readonly<Record<AddressClass, Verification>> = Object.freeze({
  local: Object.freeze({ accepted: true, class: 'local' }),
  'virtual-alias': Object.freeze({ accepted: true, class: 'virtual-alias' }),
  'virtual-mailbox': Object.freeze({ accepted: true, class: 'virtual-mailbox' }),
  relay: Object.freeze({ accepted: true, class: 'relay' }),
  remote: Object.freeze({ accepted: true, class: 'remote' }),
});

/** Postfix's virtual_alias_address_length_limit: longer alias results stop the expansion. */
const ADDRESS_LENGTH_LIMIT = 1000;
/** local(8): alias nesting deeper than this is "alias database loop" (5.4.6). */
const LOCAL_ALIAS_DEPTH = 100;

type Failure = Extract<Resolution, { ok: false }>;

/** A resolution stops: the reason, status and text become the Resolution. */
class Stop extends Error {
  readonly reason: Failure['reason'];
  readonly status: string;
  readonly text: string;
  constructor(reason: Failure['reason'], status: string, text: string) {
    super(text);
    this.reason = reason;
    this.status = status;
    this.text = text;
  }
}

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

interface Addr {
  /** Internal (unquoted) local part. */
  local: string;
  domain: string;
  /** The external form as one string, when the input already was exactly that (no quotes, canonical domain). */
  text?: string | undefined;
}

export function createAddressResolver(spec: ResolverSpec): AddressResolver {
  const myorigin = (spec.myorigin ?? spec.myhostname).toLowerCase().replace(/\.$/, '');
  const delim = spec.recipientDelimiter;
  const pdms = new Set(spec.parentDomainMatchesSubdomains ?? DEFAULT_PARENT_DOMAIN_MATCHES_SUBDOMAINS);
  const mydest = createDomainList(spec.mydestination, spec.mydestinationMaps ?? [], { kind: 'string' });
  const valiasDomains = createDomainList(spec.virtualAliasDomains, spec.virtualAliasDomainMaps ?? [], { kind: 'string' });
  const vmboxDomains = createDomainList(spec.virtualMailboxDomains, spec.virtualMailboxDomainMaps ?? [], { kind: 'string' });
  const relayDomains = createDomainList(spec.relayDomains, spec.relayDomainMaps ?? [], { kind: 'domain', parent: pdms.has('relay_domains') });
  const literals = new Set((spec.localAddresses ?? []).map((a) => a.toLowerCase()));
  const transportStrategy: FindStrategy = { full: true, noext: true, domain: pdms.has('transport_maps') ? 'pdms' : 'pddms' };
  const localRcpt = nonEmpty(spec.localRecipientMaps);
  const vmboxMaps = nonEmpty(spec.virtualMailboxMaps);
  const relayRcpt = nonEmpty(spec.relayRecipientMaps);
  const recursionLimit = spec.virtualAliasRecursionLimit;
  const expansionLimit = spec.virtualAliasExpansionLimit;

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

  // The last few domains seen: an address of one of them reuses its string (no slice, its hash already computed).
  const recent = ['', '', '', ''];
  let nextRecent = 0;
  const domainAt = (address: string, at: number): string => {
    const n = address.length - at - 1;
    for (let i = 0; i < 4; i++) {
      const d = recent[i] as string;
      if (d.length === n && address.endsWith(d)) return d;
    }
    const d = address.slice(at + 1);
    recent[nextRecent] = d;
    nextRecent = (nextRecent + 1) & 3;
    return d;
  };
  const parseInput = (address: string): Addr => {
    const at = plainAddressAt(address);
    if (at > 0) return { local: address.slice(0, at), domain: domainAt(address, at), text: address };
    const p = splitAddress(address);
    // trivial-rewrite: no domain is @$myhostname (after myorigin in cleanup); an empty local part is MAILER-DAEMON.
    const a: Addr = { local: p.local === '' ? 'MAILER-DAEMON' : p.local, domain: p.hasDomain && p.domain !== '' ? p.domain : myorigin, text: undefined };
    // The common case: the input is already the external form (its key for the tables), no string to build.
    if (p.hasDomain && p.domain !== '' && a.local === p.local && address.length === p.local.length + 1 + p.domain.length && address.endsWith(p.domain) && quoteLocal(p.local) === p.local) a.text = address;
    return a;
  };
  const show = (a: Addr): string => a.text ?? externalForm(a.local, a.domain);

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
    if (spec.virtualAliasMaps.length === 0) return { matched: false, list: [a] };
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

  const exempt = (local: string): boolean => {
    const l = local.toLowerCase();
    return l === 'postmaster' || l === 'mailer-daemon' || l === 'double-bounce';
  };
  const listed = (tables: readonly LookupTable[], a: Addr): boolean => addrFind(tables, a.local, a.domain, delim, isLocalForFind, FIND_DEFAULT, a.text) !== undefined;

  /** smtpd's check_rcpt_maps: the reply text when the class's recipient table does not list the address. */
  const unlisted = (a: Addr, cls: AddressClass): string | undefined => {
    if (cls === 'local' && localRcpt && !exempt(a.local) && !listed(localRcpt, a)) return 'User unknown in local recipient table';
    if (cls === 'virtual-mailbox' && vmboxMaps && !listed(vmboxMaps, a)) return 'User unknown in virtual mailbox table';
    if (cls === 'relay' && relayRcpt && !listed(relayRcpt, a)) return 'User unknown in relay recipient table';
    return undefined;
  };

  const error = (status: string, text: string): NextHop => ({ transport: 'error', status, text, raw: `error:${status} ${text}` });

  /** After cleanup: local(8) aliases for the local class, then each recipient's class and next hop. */
  const finalize = (a: Addr, out: FinalRecipient[], trace: string[], level: number, expFrom: string | undefined, verified?: AddressClass): void => {
    const cls = verified ?? classOf(a.domain);
    if (cls === 'local' && spec.aliasMaps.length > 0) {
      const full = a.local.toLowerCase();
      const ext = splitExtension(full, delim);
      let name = full;
      let value: string | undefined;
      if (expFrom !== full) value = mapsFind(spec.aliasMaps, full, false);
      if (value === undefined && ext && expFrom !== ext.user) {
        name = ext.user;
        value = mapsFind(spec.aliasMaps, name, false);
      }
      if (value !== undefined) {
        if (level >= LOCAL_ALIAS_DEPTH) throw new Stop('loop', '5.4.6', `alias database loop for ${name}`);
        trace.push(`alias_maps: ${name} -> ${value}`);
        const tokens = splitAliasValue(value);
        if (tokens.length === 0) throw new Stop('empty-expansion', '5.1.1', `Alias expansion error: alias ${name} expands to no address`);
        for (const token of tokens) {
          if (/^(\||\/|:include:)/i.test(token)) {
            out.push({ address: show(a), class: cls, nextHop: error('5.3.5', `moat does not deliver to commands, files or :include: lists (alias ${name}: ${token})`) });
            continue;
          }
          const p = splitAddress(token);
          const t: Addr = { local: p.local, domain: p.hasDomain && p.domain !== '' ? p.domain : myorigin };
          if (isLocalDomain(t.domain)) finalize(t, out, trace, level + 1, name);
          else for (const x of expandVirtual(t, trace).list) finalize(x, out, trace, level + 1, undefined);
        }
        return;
      }
    }
    const e = splitExtension(a.local, delim);
    let hop: NextHop;
    if (cls === 'virtual-alias') hop = error('5.1.1', 'User unknown in virtual alias table');
    else if (!verified && cls === 'local' && localRcpt && !exempt(a.local) && !listed(localRcpt, a)) hop = error('5.1.1', `unknown user: "${a.local.toLowerCase()}"`);
    else if (!verified && cls === 'virtual-mailbox' && vmboxMaps && !listed(vmboxMaps, a)) hop = error('5.1.1', `unknown user: "${show(a).toLowerCase()}"`);
    else hop = hopFor(a, cls, trace);
    out.push({ address: show(a), extension: e?.extension, class: cls, nextHop: hop });
  };

  const resolve = (input: string): Resolution => {
    const trace: string[] = [];
    let cls: AddressClass = 'remote';
    lastHop = undefined;
    try {
      const a0 = parseInput(input);
      cls = classOf(a0.domain);
      trace.push(`${show(a0)}: class ${cls}`);
      const exp = expandVirtual(a0, trace);
      if (!exp.matched) {
        // smtpd: what resolves to the error transport is refused, then the class's recipient table.
        const hop = cls === 'virtual-alias' ? error('5.1.1', 'User unknown in virtual alias table') : hopFor(a0, cls, trace);
        if (hop.transport === 'error') return { ok: false, input, class: cls, reason: 'unknown-user', status: smtpdDsnFix(rcptStatus(hop.status), 'recipient'), text: hop.text, trace };
        const why = unlisted(a0, cls);
        if (why) return { ok: false, input, class: cls, reason: 'unknown-user', status: '5.1.1', text: why, trace };
      }
      const out: FinalRecipient[] = [];
      // The input, not aliased, was just checked against its class's table: not asked again.
      if (!exp.matched) finalize(a0, out, trace, 0, undefined, cls);
      else for (const a of exp.list) finalize(a, out, trace, 0, undefined);
      // cleanup's duplicate filter: one copy per address (case-insensitive).
      const seen = new Set<string>();
      const recipients = out.filter((r) => {
        const k = r.address.toLowerCase();
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      return { ok: true, input, class: cls, recipients, trace };
    } catch (e) {
      if (e instanceof Stop) return { ok: false, input, class: cls, reason: e.reason, status: e.status, text: e.text, trace };
      if (e instanceof LookupFailure) {
        trace.push(e.message);
        return { ok: false, input, class: cls, reason: 'lookup-failure', status: '4.3.0', text: 'Temporary lookup failure', trace };
      }
      if (e instanceof NextHopError) {
        trace.push(`transport_maps: ${e.message}`);
        return { ok: false, input, class: cls, reason: 'lookup-failure', status: '4.3.0', text: 'mail transport unavailable', trace };
      }
      throw e;
    }
  };

  const verify = (address: string, as: 'recipient' | 'sender' = 'recipient'): Verification => {
    const v = verifyRcpt(address, as === 'sender' ? '5.1.0' : '5.1.1');
    return v.accepted ? v : { ...v, status: smtpdDsnFix(v.status, as) };
  };
  /** verify() asks for no trace: the transport lookup writes into this one, emptied after. */
  const scratch: string[] = [];
  const verifyRcpt = (address: string, unknown: string): Verification => {
    // Tables may be reloaded between calls: the transport memo lives for one call only.
    lastHop = undefined;
    const a = parseInput(address);
    const cls = classOf(a.domain);
    if (spec.virtualAliasMaps.length > 0) {
      const found = findVirtual(a);
      if (found) {
        if (/[^\s,<>]/.test(found.value)) return ACCEPTED[cls];
        return { accepted: false, class: cls, status: unknown, text: `Alias expansion error: ${show(a)} expands to no address` };
      }
    }
    const hop = cls === 'virtual-alias' ? error('5.1.1', 'User unknown in virtual alias table') : hopFor(a, cls, scratch);
    scratch.length = 0;
    if (hop.transport === 'error') return { accepted: false, class: cls, status: rcptStatus(hop.status), text: hop.text };
    const why = unlisted(a, cls);
    return why ? { accepted: false, class: cls, status: unknown, text: why } : ACCEPTED[cls];
  };

  const route = (address: string): Route => {
    lastHop = undefined;
    const a = parseInput(address);
    const cls = classOf(a.domain);
    if (cls === 'virtual-alias') return { class: cls, nextHop: error('5.1.1', 'User unknown in virtual alias table') };
    const e = spec.transportMaps.length === 0 ? undefined : transportEntry(a);
    return e === undefined ? { class: cls, nextHop: classDefault(cls) } : { class: cls, nextHop: applyEntry(e.value, classDefault(cls), a.domain), via: e.key };
  };

  return {
    resolve,
    verify,
    route,
    classify: (address: string): AddressClass => classOf(parseInput(address).domain),
    tables: specTables(spec),
  };
}

/**
 * smtpd refuses what resolves to the error transport with 550 whatever the status says, and makes the
 * status class agree (`error:4.2.0 text` at RCPT is "550 5.2.0 ... text"; at delivery it would defer).
 */
function rcptStatus(status: string): string {
  return status.startsWith('4') ? `5${status.slice(1)}` : status;
}

function nonEmpty(t: readonly LookupTable[] | undefined): readonly LookupTable[] | undefined {
  return t && t.length > 0 ? t : undefined;
}
