// One opened lookup table as the registry keeps it: its snapshot (swapped on reload), its file's signature,
// and the reload itself. Trusts nothing in the files: a broken edit keeps the last good table, logged and counted.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Counter, Gauge, type Logger, metricOnce, type Registry } from '@moat/observe';
import { parseTable } from './load.ts';
import type { Parsed } from './parsed.ts';
import { PATTERN_TYPES, type TableSpec } from './spec.ts';
import type { OpenOptions, OpenTable, ReloadResult } from './tables.ts';
import { TableError, type TableType } from './types.ts';

export interface TableMetrics {
  reloads: InstanceType<typeof Counter>;
  entries: InstanceType<typeof Gauge>;
  stale: InstanceType<typeof Gauge>;
}

/** The registry's metrics, shared by every table registry on one prom registry. */
export function tableMetrics(registry: Registry): TableMetrics {
  const get = <T>(name: string, make: () => T): T => metricOnce(registry, name, make);
  return {
    reloads: get(
      'moat_maps_reloads_total',
      () => new Counter({ name: 'moat_maps_reloads_total', help: 'Lookup table reloads by table and result (ok, error: the last good table is kept)', labelNames: ['table', 'result'], registers: [registry] }),
    ),
    entries: get('moat_maps_entries', () => new Gauge({ name: 'moat_maps_entries', help: 'Entries (rules for pattern tables) in the lookup table served', labelNames: ['table'], registers: [registry] })),
    stale: get(
      'moat_maps_stale',
      () => new Gauge({ name: 'moat_maps_stale', help: '1 while a table file is broken and its last good version is served', labelNames: ['table'], registers: [registry] }),
    ),
  };
}

export interface Entry {
  table: TableImpl;
  spec: TableSpec;
  check?: OpenOptions['check'];
  source?: OpenOptions['source'];
  file?: string;
  hash?: string;
  stat?: string;
}

export class TableImpl implements OpenTable {
  readonly spec: string;
  readonly type: TableType;
  readonly pattern: boolean;
  readonly file: string | undefined;
  readonly source: OpenOptions['source'];
  generation = 0;
  #current: Parsed;
  constructor(spec: string, type: TableType, file: string | undefined, parsed: Parsed, source?: OpenOptions['source']) {
    this.spec = spec;
    this.type = type;
    this.pattern = PATTERN_TYPES.has(type);
    this.file = file;
    // only a compiled type's file has a source format to carry (tables.ts refuses a second format for it)
    this.source = source !== undefined && source !== 'postmap' && (type === 'hash' || type === 'btree' || type === 'lmdb') ? source : undefined;
    this.#current = parsed;
    // only tables whose entries are keys can list them (a method that exists is what callers test for)
    if (!this.pattern && type !== 'static') this.keys = () => this.#current.values().flatMap((r) => (r.key === undefined ? [] : [r.key]));
  }
  /** LookupTable.keys: fixed-string tables built from a list; absent for pattern and static tables. */
  readonly keys?: () => string[];
  get current(): Parsed {
    return this.#current;
  }
  /** A reload swaps the snapshot and counts it, so callers' caches of answers know they are stale. */
  set current(parsed: Parsed) {
    this.#current = parsed;
    this.generation++;
  }
  get entries(): number {
    return this.current.entries;
  }
  get warnings(): Parsed['warnings'] {
    return this.current.warnings;
  }
  lookup(key: string): string | undefined {
    return this.#current.lookup(key);
  }
  rows(): ReturnType<Parsed['values']> {
    return this.#current.values();
  }
}

export const statSignature = (file: string): string => {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return 'missing';
  }
};

export const readTable = (file: string, type: TableType): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const hint = type === 'hash' || type === 'btree' || type === 'lmdb' ? ` (moat reads the source text file that postmap compiles, not ${basename(file)}.db)` : '';
    throw new TableError('TABLE_UNAVAILABLE', `${file}: cannot read (${code})${hint}`, { file });
  }
};

export function validate(parsed: Parsed, file: string, check: OpenOptions['check']): void {
  if (!check) return;
  for (const { value, line } of parsed.values()) {
    const why = check(value);
    if (why !== undefined) throw new TableError('TABLE_SYNTAX', `${file}:${line}: ${why}`, { file, line });
  }
}

export function logEntryWarnings(e: Entry, logger: Logger | undefined): void {
  for (const w of e.table.warnings) logger?.warn({ event: 'map-warning', table: e.table.spec, file: e.file, line: w.line, warning: w.message }, 'lookup table: line accepted with a warning');
}

/** Re-reads an entry's file (when its stat changed, or `force`): a good text is swapped in, a broken one keeps the last good table. */
export function reloadTableEntry(e: Entry, force: boolean, metrics: TableMetrics | undefined, logger: Logger | undefined): ReloadResult | undefined {
  const file = e.file!;
  const sig = statSignature(file);
  if (!force && sig === e.stat) return undefined;
  e.stat = sig;
  let result: ReloadResult;
  try {
    const text = readTable(file, e.spec.type);
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === e.hash) {
      result = { spec: e.table.spec, file, result: 'unchanged' };
    } else {
      const parsed = parseTable(e.spec, text, file, e.source);
      validate(parsed, file, e.check);
      e.table.current = parsed;
      e.hash = hash;
      result = { spec: e.table.spec, file, result: 'reloaded' };
      metrics?.reloads.inc({ table: e.table.spec, result: 'ok' });
      metrics?.entries.set({ table: e.table.spec }, parsed.entries);
      logger?.info({ event: 'map-reload', table: e.table.spec, file, entries: parsed.entries }, 'lookup table reloaded');
      logEntryWarnings(e, logger);
    }
    metrics?.stale.set({ table: e.table.spec }, 0);
  } catch (err) {
    if (!(err instanceof TableError)) throw err;
    // forget the hash: fixing the file back to the last good text must reload it (and clear stale)
    e.hash = undefined;
    result = { spec: e.table.spec, file, result: 'error', error: err };
    metrics?.reloads.inc({ table: e.table.spec, result: 'error' });
    metrics?.stale.set({ table: e.table.spec }, 1);
    logger?.error(
      { event: 'map-reload', table: e.table.spec, file: err.file ?? file, line: err.line, code: err.code, err: err.message },
      'lookup table not reloaded: the last good version is kept',
    );
  }
  return result;
}
