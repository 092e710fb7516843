// routing:'s table lists opened: `type:name` specs through the caller's opener (each once), `$name` references
// to other lists followed (no cycles), and domain lists split into names and tables. Trusts the parsed config.
import type { LookupTable } from '@moat/maps';
import type { Config } from './schema.ts';

const MAP_PARAMS = ['local_recipient_maps', 'alias_maps', 'virtual_alias_maps', 'virtual_mailbox_maps', 'relay_recipient_maps', 'transport_maps'] as const;
export type MapParam = (typeof MAP_PARAMS)[number];

export interface RoutingTables {
  /** A table list (`local_recipient_maps`, `alias_maps`, ...), `$other_list` references expanded. */
  mapList(param: MapParam, seen?: readonly string[]): LookupTable[];
  /** A domain list: names (`$myhostname`, `$mydomain` expanded, lower-cased) and tables. */
  domainList(param: string, list: readonly string[], seen?: readonly string[]): { names: string[]; maps: LookupTable[] };
  /** Every table spec opened, by the parameter that names it. */
  tables: Record<string, string[]>;
}

/** `fail` throws the ConfigError for a routing key (path, expected, found); `notes` gets what is ignored. */
export function routingTables(
  r: Config['routing'],
  openTable: (spec: string, opts?: { source?: 'postalias' }) => LookupTable,
  myhostname: string,
  notes: string[],
  fail: (path: (string | number)[], expected: string, found: string) => never,
): RoutingTables {
  const mydomain = myhostname.includes('.') ? myhostname.slice(myhostname.indexOf('.') + 1) : myhostname;
  const opened = new Map<string, LookupTable>();
  // Postfix builds alias_maps' hash/btree/lmdb files with postalias (aliases(5) format), and that one file answers
  // wherever else it is named (local_recipient_maps = $alias_maps): opened in that format for every parameter
  const aliasFiles = new Set(r.alias_maps.map((s) => s.replace(/^proxy:/i, '')).filter((s) => /^(hash|btree|lmdb):/i.test(s)));
  const tables: Record<string, string[]> = {};
  const open = (param: string, spec: string): LookupTable | undefined => {
    const s = spec.replace(/^proxy:/i, '');
    if (/^unix:passwd\.byname$/i.test(s)) {
      notes.push(`routing.${param}: ${spec} ignored: moat has no Unix accounts (list users in a table instead)`);
      return undefined;
    }
    let t = opened.get(s);
    if (!t) {
      try {
        t = aliasFiles.has(s) ? openTable(s, { source: 'postalias' }) : openTable(s);
      } catch (e) {
        return fail(['routing', param], 'a lookup table moat can open', `${spec}: ${(e as Error).message}`);
      }
      opened.set(s, t);
    }
    const listed = (tables[param] ??= []);
    if (!listed.includes(s)) listed.push(s);
    return t;
  };
  const mapList = (param: MapParam, seen: readonly string[] = []): LookupTable[] => {
    const out: LookupTable[] = [];
    const list = param === 'local_recipient_maps' ? (r.local_recipient_maps ?? []) : r[param];
    for (const item of list) {
      const ref = /^\$\{?([a-z_]+)\}?$/.exec(item);
      if (ref) {
        const name = ref[1] as MapParam;
        if (!MAP_PARAMS.includes(name) || seen.includes(name)) fail(['routing', param], 'a reference to another routing table list ($alias_maps, $virtual_alias_maps, ...)', item);
        out.push(...mapList(name, [...seen, param]));
      } else {
        const t = open(param, item);
        if (t) out.push(t);
      }
    }
    return out;
  };
  const expandName = (s: string) => s.replace(/\$\{?myhostname\}?/g, myhostname).replace(/\$\{?mydomain\}?/g, mydomain);
  const domainList = (param: string, list: readonly string[], seen: readonly string[] = []): { names: string[]; maps: LookupTable[] } => {
    const names: string[] = [];
    const maps: LookupTable[] = [];
    for (const item of list) {
      const ref = /^\$\{?([a-z_]+)\}?$/.exec(item);
      if (ref && ref[1] !== 'myhostname' && ref[1] !== 'mydomain') {
        const name = ref[1] as string;
        if ((MAP_PARAMS as readonly string[]).includes(name)) maps.push(...mapList(name as MapParam));
        else if (name === 'mydestination' && !seen.includes(name)) {
          const d = domainList(param, r.mydestination, [...seen, name]);
          names.push(...d.names);
          maps.push(...d.maps);
        } else fail(['routing', param], 'a domain, a table, or $myhostname, $mydomain, $mydestination, $virtual_alias_maps, $virtual_mailbox_maps', item);
      } else if (/^[a-z0-9]+:/.test(item)) {
        const t = open(param, item);
        if (t) maps.push(t);
      } else names.push(expandName(item).toLowerCase());
    }
    return { names, maps };
  };
  return { mapList, domainList, tables };
}
