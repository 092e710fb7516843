// The address resolver: Postfix's trivial-rewrite (class, transport), cleanup (virtual_alias_maps), smtpd
// (recipient tables) and local(8) (alias_maps) in one pure function. Trusts its spec; the address is client input.
import type { LookupTable } from '@moat/maps';
import { smtpdDsnFix } from '@moat/policy';
import { errorRefusalStatus, retryRefusalStatus } from './error-hop.ts';
import { splitAddress, splitExtension } from './address-parts.ts';
import { NextHopError } from './next-hop.ts';
import { splitAliasValue } from './alias-values.ts';
import { specTables } from './domain-facts.ts';
import { createDomainClassifier } from './domain-classifier.ts';
import { type Addr, createInputParser, Stop, show } from './resolver-input.ts';
import { addrFind, FIND_DEFAULT, type FindStrategy, LookupFailure, mapsFind } from './table-find.ts';
import { createTransportLookup } from './transport-lookup.ts';
import { createVirtualExpander } from './virtual-expansion.ts';
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

/** local(8): alias nesting deeper than this is "alias database loop" (5.4.6). */
const LOCAL_ALIAS_DEPTH = 100;

export function createAddressResolver(spec: ResolverSpec): AddressResolver {
  const myorigin = (spec.myorigin ?? spec.myhostname).toLowerCase().replace(/\.$/, '');
  const delim = spec.recipientDelimiter;
  const pdms = new Set(spec.parentDomainMatchesSubdomains ?? DEFAULT_PARENT_DOMAIN_MATCHES_SUBDOMAINS);
  const transportStrategy: FindStrategy = { full: true, noext: true, domain: pdms.has('transport_maps') ? 'pdms' : 'pddms' };
  const { isLocalDomain, isLocalForFind, classOf, findVirtual } = createDomainClassifier(spec, myorigin, pdms);

  const parseInput = createInputParser(myorigin);
  const expandVirtual = createVirtualExpander({
    enabled: spec.virtualAliasMaps.length > 0,
    myorigin,
    recursionLimit: spec.virtualAliasRecursionLimit,
    expansionLimit: spec.virtualAliasExpansionLimit,
    findVirtual,
  });
  const transport = createTransportLookup(spec, delim, isLocalForFind, transportStrategy);
  const { classDefault, applyEntry, transportEntry, hopFor } = transport;

  const unlisted = recipientTableCheck(spec, delim, isLocalForFind);

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
    else if (!verified && (cls === 'local' || cls === 'virtual-mailbox') && unlisted(a, cls)) {
      hop = error('5.1.1', `unknown user: "${(cls === 'local' ? a.local : show(a)).toLowerCase()}"`);
    } else hop = hopFor(a, cls, trace);
    out.push({ address: show(a), extension: e?.extension, class: cls, nextHop: hop });
  };

  const resolve = (input: string): Resolution => {
    const trace: string[] = [];
    let cls: AddressClass = 'remote';
    transport.reset();
    try {
      const a0 = parseInput(input);
      cls = classOf(a0.domain);
      trace.push(`${show(a0)}: class ${cls}`);
      const exp = expandVirtual(a0, trace);
      if (!exp.matched) {
        // smtpd: what resolves to the error transport is refused, then the class's recipient table.
        const hop = cls === 'virtual-alias' ? error('5.1.1', 'User unknown in virtual alias table') : hopFor(a0, cls, trace);
        if (hop.transport === 'error') return { ok: false, input, class: cls, reason: 'unknown-user', status: errorRefusalStatus(hop.status, 'recipient'), text: hop.text, trace, by: 'error' };
        if (hop.transport === 'retry') return { ok: false, input, class: cls, reason: 'retry', status: retryRefusalStatus(hop.status, 'recipient'), text: hop.text, trace, by: 'retry' };
        const why = unlisted(a0, cls);
        if (why) return { ok: false, input, class: cls, reason: 'unknown-user', status: '5.1.1', text: why, trace, by: 'table' };
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

  const verify = createVerifier({ reset: () => transport.reset(), parseInput, classOf, findVirtual: spec.virtualAliasMaps.length > 0 ? findVirtual : undefined, hopFor, unlisted });

  const route = (address: string): Route => {
    transport.reset();
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

interface VerifierParts {
  /** Empties the transport lookup's memo (tables may be reloaded between calls). */
  reset(): void;
  parseInput(address: string): Addr;
  classOf(domain: string): AddressClass;
  /** virtual_alias_maps' entry for the address; undefined without such tables. */
  findVirtual?: ((a: Addr) => { value: string } | undefined) | undefined;
  hopFor(a: Addr, cls: AddressClass, trace: string[]): NextHop;
  unlisted(a: Addr, cls: AddressClass): string | undefined;
}

/** verify(): smtpd's RCPT (or sender) check, without expanding aliases or keeping a trace. */
function createVerifier(p: VerifierParts): AddressResolver['verify'] {
  /** verify() asks for no trace: the transport lookup writes into this one, emptied after. */
  const scratch: string[] = [];
  const verifyRcpt = (address: string, as: 'recipient' | 'sender'): Verification => {
    const unknown = as === 'sender' ? '5.1.0' : '5.1.1';
    p.reset();
    const a = p.parseInput(address);
    const cls = p.classOf(a.domain);
    const found = p.findVirtual?.(a);
    if (found) {
      if (/[^\s,<>]/.test(found.value)) return ACCEPTED[cls];
      return { accepted: false, class: cls, status: unknown, text: `Alias expansion error: ${show(a)} expands to no address`, by: 'alias' };
    }
    const hop = cls === 'virtual-alias' ? error('5.1.1', 'User unknown in virtual alias table') : p.hopFor(a, cls, scratch);
    scratch.length = 0;
    if (hop.transport === 'error') return { accepted: false, class: cls, status: errorRefusalStatus(hop.status, as), text: hop.text, by: 'error' };
    if (hop.transport === 'retry') return { accepted: false, class: cls, status: retryRefusalStatus(hop.status, as), text: hop.text, by: 'retry' };
    const why = p.unlisted(a, cls);
    return why ? { accepted: false, class: cls, status: unknown, text: why, by: 'table' } : ACCEPTED[cls];
  };
  return (address, as = 'recipient') => {
    const v = verifyRcpt(address, as);
    return v.accepted ? v : { ...v, status: smtpdDsnFix(v.status, as) };
  };
}

/**
 * smtpd's check_rcpt_maps: for an address and its class, the reply text when the class's recipient table
 * (local_recipient_maps, virtual_mailbox_maps, relay_recipient_maps) does not list it; undefined when it does or
 * the table is unset.
 */
function recipientTableCheck(spec: ResolverSpec, delim: string, isLocalForFind: (d: string) => boolean) {
  const localRcpt = nonEmpty(spec.localRecipientMaps);
  const vmboxMaps = nonEmpty(spec.virtualMailboxMaps);
  const relayRcpt = nonEmpty(spec.relayRecipientMaps);
  const listed = (tables: readonly LookupTable[], a: Addr): boolean => addrFind(tables, a.local, a.domain, delim, isLocalForFind, FIND_DEFAULT, a.text) !== undefined;
  return (a: Addr, cls: AddressClass): string | undefined => {
    if (cls === 'local' && localRcpt && !exempt(a.local) && !listed(localRcpt, a)) return 'User unknown in local recipient table';
    if (cls === 'virtual-mailbox' && vmboxMaps && !listed(vmboxMaps, a)) return 'User unknown in virtual mailbox table';
    if (cls === 'relay' && relayRcpt && !listed(relayRcpt, a)) return 'User unknown in relay recipient table';
    return undefined;
  };
}

/** local_recipient_maps does not apply to these (smtpd). */
function exempt(local: string): boolean {
  const l = local.toLowerCase();
  return l === 'postmaster' || l === 'mailer-daemon' || l === 'double-bounce';
}

/** The error transport's next hop: refused at RCPT, bounced at delivery. */
function error(status: string, text: string): NextHop {
  return { transport: 'error', status, text, raw: `error:${status} ${text}` };
}

function nonEmpty(t: readonly LookupTable[] | undefined): readonly LookupTable[] | undefined {
  return t && t.length > 0 ? t : undefined;
}
