// Turns `routing:` + `recipients:` + `queue:` into the address resolver's spec, with tables opened by the caller.
// Trusts the parsed config; every table spec and transport is checked here and a bad one is a ConfigError.
import { createMemoryTable, NextHopError, type NextHop, parseNextHop, type ResolverSpec } from '@moat/address';
import type { LookupTable } from '@moat/maps';
import type { StaticRecipientsOptions } from '@moat/policy';
import { ConfigError } from './load.ts';
import { routingTables } from './routing-tables.ts';
import type { Config } from './schema.ts';

export interface RoutingCompileOptions {
  /** Opens a Postfix table from its `type:name` spec (@moat/maps in production, in-memory tables in tests). */
  openTable: (spec: string, opts?: { source?: 'postalias' }) => LookupTable;
  /** The recipient directory compileConfig built (users_file merged in); default: recipients.users only. */
  recipients?: StaticRecipientsOptions | undefined;
}

export interface CompiledRouting {
  spec: ResolverSpec;
  /** Postfix's implicit reject_unlisted_recipient / reject_unlisted_sender at the end of the lists. */
  smtpdRejectUnlistedRecipient: boolean;
  smtpdRejectUnlistedSender: boolean;
  /** Every table spec opened, by the parameter that names it (for `moat config check`). */
  tables: Readonly<Record<string, readonly string[]>>;
  /** Settings moat reads but does not act on, said once by `moat config check`. */
  notes: readonly string[];
}

/**
 * Builds the ResolverSpec. How the sections combine: recipients.domains and catch_all are virtual mailbox
 * domains whose users are recipients.users (+ users_file) and, for a catch-all, `@domain`; recipients.relay_domains
 * are relay domains (exact names); both are added to routing's own lists and tables. queue.transport is the
 * mailbox delivery (local_transport, virtual_transport) unless routing says otherwise; queue.transports are
 * per-domain transport_maps entries asked after routing.transport_maps. Throws ConfigError.
 */
export function compileRouting(config: Config, opts: RoutingCompileOptions): CompiledRouting {
  const r = config.routing;
  const file = config.source.file;
  const myhostname = config.policy.hostname.toLowerCase().replace(/\.$/, '');
  const notes: string[] = [];

  const fail = (path: (string | number)[], expected: string, found: string): never => {
    throw new ConfigError(file, [{ file, path, expected, found }]);
  };
  const { mapList, domainList, tables } = routingTables(r, opts.openTable, myhostname, notes, fail);
  const hop = (param: string, text: string): NextHop => {
    try {
      return parseNextHop(text);
    } catch (e) {
      if (e instanceof NextHopError) return fail(['routing', param], 'a transport moat delivers with', e.message);
      throw e;
    }
  };

  const mailbox = hop('queue.transport', config.queue.transport);
  const own = (param: 'local_transport' | 'virtual_transport', name: string): NextHop => {
    const v = r[param];
    if (v === undefined || v.toLowerCase() === name || v.toLowerCase().startsWith(`${name}:`)) return mailbox;
    return hop(param, v);
  };
  const relayhost = r.relayhost.trim() === '' ? undefined : hop('relayhost', `smtp:${r.relayhost.trim()}`);
  // resolve.c: relayhost replaces the recipient domain as next hop for the relay and default classes,
  // unless the transport setting names its own next hop.
  const offHost = (param: 'relay_transport' | 'default_transport'): NextHop => {
    const h = hop(param, r[param]);
    return relayhost && h.transport === 'smtp' && h.host === undefined ? { ...relayhost, raw: `${r[param]} (relayhost ${r.relayhost.trim()})` } : h;
  };

  // recipients: → virtual mailbox domains with an in-memory user table; relay domains by exact name.
  const rc = opts.recipients ?? { domains: config.recipients.domains, relayDomains: config.recipients.relay_domains, users: config.recipients.users, catchAll: config.recipients.catch_all };
  const norm = (d: string) => d.toLowerCase().replace(/^@/, '').replace(/\.$/, '');
  const hosted = [...rc.domains, ...(rc.catchAll ?? [])].map(norm);
  const userTable = createMemoryTable('moat:recipients.users', [
    ...(rc.users ?? []).map((u) => [u, 'OK'] as const),
    ...(rc.catchAll ?? []).map((d) => [`@${norm(d)}`, 'OK'] as const),
  ]);
  const relayTable = createMemoryTable(
    'moat:recipients.relay_domains',
    (rc.relayDomains ?? []).map((d) => [norm(d), 'OK'] as const),
    { exactOnly: true },
  );
  const legacyTransports = createMemoryTable(
    'moat:queue.transports',
    // A fixed-string table: transport_maps asks it the domain, then `.parent` keys it never has (exact, as before).
    Object.entries(config.queue.transports).map(([d, t]) => [norm(d), t] as const),
  );

  const aliasMaps = mapList('alias_maps');
  const mydest = domainList('mydestination', r.mydestination);
  const valias = domainList('virtual_alias_domains', r.virtual_alias_domains);
  const vmbox = domainList('virtual_mailbox_domains', r.virtual_mailbox_domains);
  const relay = domainList('relay_domains', r.relay_domains);
  // moat's default local_recipient_maps: the aliases and nobody else (no Unix accounts). Empty: no check.
  const localRecipientMaps =
    r.local_recipient_maps === undefined ? [...aliasMaps, createMemoryTable('moat:no-unix-accounts', [])] : r.local_recipient_maps.length === 0 ? undefined : mapList('local_recipient_maps');
  const vmboxMaps = mapList('virtual_mailbox_maps');
  const hasRecipients = hosted.length > 0 || (rc.users ?? []).length > 0;

  // A domain recipients: hosts or relays is not local even when $myhostname names it (explicit wins over default).
  const claimed = new Set([...hosted, ...(rc.relayDomains ?? []).map(norm)]);
  const dropped = mydest.names.filter((d) => claimed.has(d));
  if (dropped.length > 0) notes.push(`routing.mydestination: ${dropped.join(', ')} left out: recipients: hosts it`);
  const spec: ResolverSpec = {
    myhostname,
    mydestination: mydest.names.filter((d) => !claimed.has(d)),
    mydestinationMaps: mydest.maps,
    localRecipientMaps,
    aliasMaps,
    virtualAliasDomains: valias.names,
    virtualAliasDomainMaps: valias.maps,
    virtualAliasMaps: mapList('virtual_alias_maps'),
    virtualMailboxDomains: [...vmbox.names, ...hosted],
    virtualMailboxDomainMaps: vmbox.maps,
    virtualMailboxMaps: hasRecipients ? [...vmboxMaps, userTable] : vmboxMaps,
    relayDomains: relay.names,
    relayDomainMaps: (rc.relayDomains ?? []).length > 0 ? [...relay.maps, relayTable] : relay.maps,
    relayRecipientMaps: r.relay_recipient_maps.length > 0 ? mapList('relay_recipient_maps') : undefined,
    transportMaps: Object.keys(config.queue.transports).length > 0 ? [...mapList('transport_maps'), legacyTransports] : mapList('transport_maps'),
    recipientDelimiter: r.recipient_delimiter ?? config.recipients.recipient_delimiter,
    localTransport: own('local_transport', 'local'),
    virtualTransport: own('virtual_transport', 'virtual'),
    relayTransport: offHost('relay_transport'),
    defaultTransport: offHost('default_transport'),
    virtualAliasRecursionLimit: r.virtual_alias_recursion_limit,
    virtualAliasExpansionLimit: r.virtual_alias_expansion_limit,
    localAddresses: [...config.policy.my_addresses],
    parentDomainMatchesSubdomains: [...r.parent_domain_matches_subdomains],
  };
  return { spec, smtpdRejectUnlistedRecipient: r.smtpd_reject_unlisted_recipient, smtpdRejectUnlistedSender: r.smtpd_reject_unlisted_sender, tables, notes };
}
