// Turns a loaded Config into what the engine needs: a frozen PolicySpec, loaded cidr tables, recipients.
// Reads the map and users files the config names (the engine itself never touches files).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  type AccessMapPort,
  type CidrTable,
  createCidrAccessMap,
  createStaticRecipients,
  type PolicySpec,
  PolicyError,
  parseCidrTable,
  type RecipientPort,
  type Restriction,
  type StaticRecipientsOptions,
} from '@moat/policy';
import { checkDkimKeys } from './dkim-keys.ts';
import { validDisplayName, zoneDisplayName, zoneDisplayNames } from '@moat/dnslist';
import { ConfigError, deepFreeze } from './load.ts';
import type { Config } from './schema.ts';

export interface CompiledConfig {
  /** The engine's spec, frozen. */
  spec: PolicySpec;
  /** Every cidr table a restriction names, parsed, by map name. */
  accessTables: Readonly<Record<string, CidrTable>>;
  /** An AccessMapPort over those tables. */
  accessMaps: AccessMapPort;
  /** The recipient directory from `recipients:` (users_file merged in). */
  recipientOptions: StaticRecipientsOptions;
  recipients: RecipientPort;
}

export interface CompileOptions {
  /** Reads a file (tests replace it); default: fs.readFileSync(path, 'utf8'). */
  readFile?: (path: string) => string;
}

/** Builds the engine's inputs from config. Throws ConfigError naming the file that is wrong. */
export function compileConfig(config: Config, opts: CompileOptions = {}): CompiledConfig {
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const base = dirname(config.source.file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const p = config.policy;

  const lists: Array<readonly Restriction[]> = [p.relay_restrictions as readonly Restriction[], p.recipient_restrictions as readonly Restriction[]];
  const accessTables: Record<string, CidrTable> = {};
  for (const list of lists) {
    for (const r of list) {
      // every access map (check_client/helo/sender/recipient_access) is a cidr table for now (schema.ts)
      if (!('map' in r) || accessTables[r.map]) continue;
      const inline = p.access_maps[r.map];
      const path = abs(r.map.slice('cidr:'.length));
      const source = inline !== undefined ? `${config.source.file} (policy.access_maps ${r.map})` : path;
      let text: string;
      if (inline !== undefined) text = inline;
      else {
        try {
          text = read(path);
        } catch (e) {
          throw new ConfigError(config.source.file, [
            { file: path, path: ['policy', 'recipient_restrictions'], expected: `a readable cidr table for ${r.map} (or an inline one under policy.access_maps)`, found: (e as Error).message },
          ]);
        }
      }
      try {
        accessTables[r.map] = parseCidrTable(text, r.map);
      } catch (e) {
        if (!(e instanceof PolicyError)) throw e;
        throw new ConfigError(config.source.file, [{ file: source, path: ['policy', 'access_maps', r.map], line: inline === undefined ? e.position.line : undefined, expected: e.reason, found: JSON.stringify(e.item) }]);
      }
    }
  }

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

  checkDkimKeys(config, read, abs);

  for (const [zone, o] of Object.entries(config.dns.zones)) {
    const display = o && typeof o === 'object' ? (o as { display?: unknown }).display : undefined;
    if (display !== undefined && !validDisplayName(display)) {
      // the path names the zone by its derived display name: an error message must not print a DQS key either
      throw new ConfigError(config.source.file, [
        { file: config.source.file, path: ['dns', 'zones', zoneDisplayName(zone), 'display'], expected: 'a zone-like name (letters, digits, - _ .), shown in replies', found: JSON.stringify(String(display).slice(0, 80)) },
      ]);
    }
  }
  // every zone the policy queries or dns.zones configures, with the name it may be shown by (no DQS key)
  const zones = lists.flatMap((l) => l.flatMap((r) => ('zone' in r ? [r.zone] : [])));
  const spec: PolicySpec = deepFreeze({
    myHostname: p.hostname,
    myAddresses: [...p.my_addresses],
    myNetworks: [...p.mynetworks],
    delayReject: p.delay_reject,
    strictRfc821Envelopes: p.strict_rfc821_envelopes,
    rejectUnlistedRecipient: p.reject_unlisted_recipient,
    rejectUnlistedSender: p.reject_unlisted_sender,
    recipientDelimiter: rc.recipient_delimiter,
    relayRestrictions: p.relay_restrictions as readonly Restriction[],
    recipientRestrictions: p.recipient_restrictions as readonly Restriction[],
    zoneDisplayNames: zoneDisplayNames(zones, config.dns.zones),
  });
  const recipientOptions: StaticRecipientsOptions = deepFreeze({
    domains: [...rc.domains],
    relayDomains: [...rc.relay_domains],
    users,
    catchAll: [...rc.catch_all],
    recipientDelimiter: rc.recipient_delimiter,
  });
  deepFreeze(accessTables);
  return {
    spec,
    accessTables,
    accessMaps: createCidrAccessMap(accessTables),
    recipientOptions,
    recipients: createStaticRecipients(recipientOptions),
  };
}
