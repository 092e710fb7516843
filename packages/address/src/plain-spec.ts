// A ResolverSpec as plain data (structured-cloneable): what a thread that must not load the config code (the
// delivery thread) is handed to build the same resolver. Trusts the spec it is given (compiled from config).
import type { LookupTable } from '@moat/maps';
import { createMemoryTable } from './memory-table.ts';
import type { ResolverSpec } from './types.ts';

/** A table by how to open it again: a Postfix `type:name` spec, or moat's in-memory entries (recipients:, queue.transports). */
export type PlainTable = { spec: string } | { memory: string; entries: Array<[string, string]>; exactOnly: boolean };

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
  return { spec: t.spec };
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
export function fromPlainResolverSpec(plain: PlainResolverSpec, openTable: (spec: string) => LookupTable): ResolverSpec {
  const out: Record<string, unknown> = { ...plain };
  const memory = new Map<string, LookupTable>();
  for (const k of TABLE_LISTS) {
    const list = plain[k];
    if (list === undefined) continue;
    out[k] = list.map((t) => {
      if ('spec' in t) return openTable(t.spec);
      let m = memory.get(t.memory);
      if (!m) memory.set(t.memory, (m = createMemoryTable(t.memory, t.entries, { exactOnly: t.exactOnly })));
      return m;
    });
  }
  return out as unknown as ResolverSpec;
}
