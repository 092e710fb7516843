// Turns a loaded Config into what the engine needs: a frozen PolicySpec, opened lookup tables, recipients.
// Reads the map and users files the config names (the engine itself never touches files).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type AddressResolver, createAddressResolver, recipientPortFromResolver } from '@moat/address';
import { createTableAccessMap, createTables, type LookupTable, TableError, type Tables } from '@moat/maps';
import {
  type AccessMapPort,
  type CidrTable,
  createCidrAccessMap,
  type PolicySpec,
  PolicyError,
  parseAccessAction,
  parseCidrTable,
  type RecipientPort,
  type Restriction,
  type StaticRecipientsOptions,
  syncAccessMap,
} from '@moat/policy';
import { type CompiledRouting, compileRouting } from './compile-routing.ts';
import { daneOnlyHopIssues, mailboxTransportIssues } from './check-transports.ts';
import { checkDkimKeys } from './dkim-keys.ts';
import { validDisplayName, zoneDisplayName, zoneDisplayNames } from '@moat/dnslist';
import { ConfigError, deepFreeze } from './load.ts';
import type { Config } from './schema.ts';

export interface CompiledConfig {
  /** The engine's spec, frozen. */
  spec: PolicySpec;
  /** The inline cidr tables under `policy.access_maps` that a restriction names, parsed, by map name. */
  accessTables: Readonly<Record<string, CidrTable>>;
  /**
   * Every other table a restriction names (`cidr:`, `hash:`, `regexp:`...), opened from the admin's
   * files. Not watched: the runtime starts watching (`tables.watch`) and closes them.
   */
  tables: Tables;
  /** An AccessMapPort over both (inline definitions first). */
  accessMaps: AccessMapPort;
  /** The recipient directory from `recipients:` (users_file merged in). */
  recipientOptions: StaticRecipientsOptions;
  /** routing: with recipients: and queue.transport(s), compiled: the resolver's spec and what it opened. */
  routing: CompiledRouting;
  /** The one address resolver (class, aliases, next hop) mx, the queue and the CLI use. */
  addressResolver: AddressResolver;
  /** The engine's recipient directory: the resolver's RCPT check (Postfix's per-class texts). */
  recipients: RecipientPort;
}

export interface CompileOptions {
  /** Reads a file (tests replace it); default: fs.readFileSync(path, 'utf8'). Lookup tables are read by `tables`. */
  readFile?: (path: string) => string;
  /** Where lookup tables are opened (default: a new registry, relative paths against the config file's directory). */
  tables?: Tables;
  /** Opens routing:'s tables (default: `tables.open`; tests give in-memory ones). */
  openTable?: ((spec: string, opts?: { source?: 'postalias' }) => LookupTable) | undefined;
  /**
   * Check that every queue.dkim key is a readable key (default true: mx, which signs, and `moat config
   * check`). policyd and the console never sign: they pass false and need no access to the private keys.
   */
  dkimKeys?: boolean | undefined;
}

/** An access-map right-hand side moat cannot act on is refused when the table is read, not at RCPT. */
const checkAccessAction = (rhs: string): string | undefined =>
  rhs.includes('$') || parseAccessAction(rhs)
    ? undefined
    : 'unsupported access action (expected OK, PERMIT, DUNNO, REJECT [text], DEFER [text], 4NN text, 5NN text, PREPEND header, WARN text)';

/** Builds the engine's inputs from config. Throws ConfigError naming the file that is wrong. */
export function compileConfig(config: Config, opts: CompileOptions = {}): CompiledConfig {
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const base = dirname(config.source.file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const p = config.policy;

  const lists: Array<readonly Restriction[]> = [p.relay_restrictions as readonly Restriction[], p.recipient_restrictions as readonly Restriction[]];
  const accessTables: Record<string, CidrTable> = {};
  const tables = opts.tables ?? createTables({ baseDir: base });
  for (const [listName, list] of [
    ['relay_restrictions', lists[0]!],
    ['recipient_restrictions', lists[1]!],
  ] as const) {
    for (const r of list) {
      // every access map (check_client/helo/sender/recipient_access): inline (policy.access_maps, cidr) or a lookup table file
      if (!('map' in r) || accessTables[r.map] || tables.get(r.map)) continue;
      const inline = p.access_maps[r.map];
      if (inline !== undefined) {
        try {
          accessTables[r.map] = parseCidrTable(inline, r.map);
        } catch (e) {
          if (!(e instanceof PolicyError)) throw e;
          throw new ConfigError(config.source.file, [
            { file: `${config.source.file} (policy.access_maps ${r.map})`, path: ['policy', 'access_maps', r.map], expected: e.reason, found: JSON.stringify(e.item) },
          ]);
        }
        continue;
      }
      try {
        tables.open(r.map, { check: checkAccessAction });
      } catch (e) {
        if (!(e instanceof TableError)) throw e;
        const file = e.file ?? config.source.file;
        const type = r.map.slice(0, r.map.indexOf(':'));
        const expected =
          e.code === 'TABLE_UNAVAILABLE'
            ? `a readable ${type} table for check_client_access ${r.map} (or an inline cidr one under policy.access_maps)`
            : `a valid ${type} table for check_client_access ${r.map}`;
        throw new ConfigError(config.source.file, [{ file, path: ['policy', listName], line: e.line, expected, found: e.message }]);
      }
    }
  }
  const inlineMaps = createCidrAccessMap(accessTables);
  const fileMaps = createTableAccessMap((map) => tables.get(map));
  const lookupSync = (map: string, key: string): string | undefined =>
    accessTables[map] !== undefined ? inlineMaps.lookupSync(map, key) : fileMaps.lookupSync(map, key);
  const accessMaps = syncAccessMap(lookupSync);

  const rc = config.recipients;
  const users = [...rc.users];
  if (rc.users_file !== undefined) {
    const path = abs(rc.users_file);
    let text: string;
    try {
      text = read(path);
    } catch (e) {
      throw new ConfigError(config.source.file, [{ file: path, path: ['recipients', 'users_file'], expected: 'a readable file of addresses, one a line', found: (e as Error).message }]);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const s = line.replace(/#.*/, '').trim();
      if (s === '') return;
      if (!/^[^@\s]+@[^@\s]+$/.test(s)) {
        throw new ConfigError(config.source.file, [{ file: path, path: ['recipients', 'users_file'], line: i + 1, column: 1, expected: 'an address user@domain', found: JSON.stringify(s) }]);
      }
      users.push(s);
    });
  }

  if (opts.dkimKeys !== false) checkDkimKeys(config, read, abs);

  for (const [zone, o] of Object.entries(config.dns.zones)) {
    const display = o && typeof o === 'object' ? (o as { display?: unknown }).display : undefined;
    if (display !== undefined && !validDisplayName(display)) {
      // the path names the zone by its derived display name: an error message must not print a DQS key either
      throw new ConfigError(config.source.file, [
        { file: config.source.file, path: ['dns', 'zones', zoneDisplayName(zone), 'display'], expected: 'a zone-like name (letters, digits, - _ .), shown in replies', found: JSON.stringify(String(display).slice(0, 80)) },
      ]);
    }
  }
  const recipientOptions: StaticRecipientsOptions = deepFreeze({
    domains: [...rc.domains],
    relayDomains: [...rc.relay_domains],
    users,
    catchAll: [...rc.catch_all],
    recipientDelimiter: rc.recipient_delimiter,
  });
  const routing = compileRouting(config, { openTable: opts.openTable ?? ((s, o) => tables.open(s, o)), recipients: recipientOptions });
  const addressResolver = createAddressResolver(routing.spec);
  const misrouted = [...mailboxTransportIssues(config, routing.spec, addressResolver), ...daneOnlyHopIssues(config, routing.spec, addressResolver)];
  if (misrouted.length > 0) throw new ConfigError(config.source.file, misrouted);
  // smtpd_sender_login_maps are asked through the access-map port: opened with the other tables
  p.sender_login_maps.forEach((m, i) => {
    try {
      tables.open(m);
    } catch (e) {
      if (!(e instanceof TableError)) throw e;
      throw new ConfigError(config.source.file, [{ file: e.file ?? config.source.file, path: ['policy', 'sender_login_maps', i], line: e.line, expected: 'a readable lookup table', found: e.message }]);
    }
  });

  // every zone the policy queries or dns.zones configures, with the name it may be shown by (no DQS key)
  const zones = [...lists.flatMap((l) => l.flatMap((r) => ('zone' in r ? [r.zone] : []))), ...p.dnsbl_sites.map((s) => s.zone)];
  const spec: PolicySpec = deepFreeze({
    myHostname: p.hostname,
    myAddresses: [...p.my_addresses],
    myNetworks: [...p.mynetworks],
    delayReject: p.delay_reject,
    strictRfc821Envelopes: p.strict_rfc821_envelopes,
    rejectUnlistedRecipient: routing.smtpdRejectUnlistedRecipient,
    rejectUnlistedSender: routing.smtpdRejectUnlistedSender,
    recipientDelimiter: routing.spec.recipientDelimiter,
    ...(p.sender_login_maps.length ? { senderLoginMaps: [...p.sender_login_maps] } : {}),
    relayRestrictions: p.relay_restrictions as readonly Restriction[],
    recipientRestrictions: p.recipient_restrictions as readonly Restriction[],
    zoneDisplayNames: zoneDisplayNames(zones, config.dns.zones),
    ...(p.dnsbl_sites.length ? { dnsblSites: p.dnsbl_sites.map((s) => ({ ...s })) } : {}),
    dnsblThreshold: p.dnsbl_threshold,
    // Postfix 3.6: postscreen_dnsbl_allowlist_threshold = $postscreen_dnsbl_whitelist_threshold
    dnsblAllowlistThreshold: p.dnsbl_allowlist_threshold ?? p.dnsbl_whitelist_threshold ?? 0,
    unknownLocalRecipientRejectCode: p.unknown_local_recipient_reject_code,
    unknownVirtualAliasRejectCode: p.unknown_virtual_alias_reject_code,
    unknownVirtualMailboxRejectCode: p.unknown_virtual_mailbox_reject_code,
    unknownRelayRecipientRejectCode: p.unknown_relay_recipient_reject_code,
    unknownAddressRejectCode: p.unknown_address_reject_code,
    unknownAddressTempfailAction: p.unknown_address_tempfail_action,
    unknownClientRejectCode: p.unknown_client_reject_code,
  });
  deepFreeze(accessTables);
  return {
    spec,
    accessTables,
    tables,
    accessMaps,
    recipientOptions,
    routing,
    addressResolver,
    recipients: recipientPortFromResolver(addressResolver),
  };
}
