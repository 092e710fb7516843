// A ResolverSpec as plain data (structured-cloneable): what a thread that must not load the config code (the
// delivery thread) is handed to build the same resolver. Trusts the spec it is given (compiled from config).
import type { LookupTable, SourceFormat } from '@moat/maps';
import { createMemoryTable } from './memory-table.ts';
import type { ResolverSpec } from './types.ts';

/**
 * A table by how to open it again: a Postfix `type:name` spec with its source format (`postalias`: an alias_maps
 * hash/btree/lmdb file in aliases(5) format; absent: postmap), or moat's in-memory entries (recipients:, queue.transports).
 */
export type PlainTable = { spec: string; source?: SourceFormat | undefined } | { memory: string; entries: Array<[string, string]>; exactOnly: boolean };

/** How the receiver opens a `type:name` table: its registry's open, with the source format the sender read it in. */
export type PlainTableOpener = (spec: string, opts?: { source?: SourceFormat | undefined }) => LookupTable;

const TABLE_LISTS = [
  'localRecipientMaps',
  'aliasMaps',
  'virtualAliasMaps',
  'virtualMailboxMaps',
  'relayRecipientMaps',
  'transportMaps',
  'mydestinationMaps',
  'virtualAliasDomainMaps',
  'virtualMailboxDomainMaps',
  'relayDomainMaps',
] as const;
type TableList = (typeof TABLE_LISTS)[number];

export type PlainResolverSpec = Omit<ResolverSpec, TableList> & { [K in TableList]?: PlainTable[] | undefined };

const MEMORY = 'moat:';

function plainTable(t: LookupTable): PlainTable {
  const keys = (t as { keys?: () => Iterable<string> }).keys;
  if (t.spec.startsWith(MEMORY) && typeof keys === 'function') {
    return { memory: t.spec, entries: [...keys.call(t)].map((k) => [k, t.lookup(k) ?? ''] as [string, string]), exactOnly: t.pattern };
  }
  // an aliases(5) file read as postmap format misses every alias (and `name:value` lines do not parse at all)
  return t.source === 'postalias' ? { spec: t.spec, source: t.source } : { spec: t.spec };
}

/** The spec with every table replaced by how to open it again (file tables are re-read by the receiver). */
export function toPlainResolverSpec(spec: ResolverSpec): PlainResolverSpec {
  const out: Record<string, unknown> = { ...spec };
  for (const k of TABLE_LISTS) {
    const list = spec[k];
    if (list !== undefined) out[k] = list.map(plainTable);
  }
  return out as PlainResolverSpec;
}

/**
 * The spec again, tables opened by `openTable` (@moat/maps' registry: the same spec opens one table, which
 * it watches like the sender's). In-memory tables are rebuilt from their entries.
 */
export function fromPlainResolverSpec(plain: PlainResolverSpec, openTable: PlainTableOpener): ResolverSpec {
  const out: Record<string, unknown> = { ...plain };
  const memory = new Map<string, LookupTable>();
  for (const k of TABLE_LISTS) {
    const list = plain[k];
    if (list === undefined) continue;
    out[k] = list.map((t) => {
      if ('spec' in t) return t.source ? openTable(t.spec, { source: t.source }) : openTable(t.spec);
      let m = memory.get(t.memory);
      if (!m) memory.set(t.memory, (m = createMemoryTable(t.memory, t.entries, { exactOnly: t.exactOnly })));
      return m;
    });
  }
  return out as unknown as ResolverSpec;
}
