// The registry of lookup tables a process uses: each spec opened once, file tables re-read when their file
// changes (fs.watch on the directory, a stat poll as fallback, reload() for SIGHUP). Trusts nothing in the
// files: a broken edit keeps the last good table, logged (file:line, never contents) and counted.
import { createHash } from 'node:crypto';
import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { Logger, Registry } from '@moat/observe';
import { parseTable, type SourceFormat } from './load.ts';
import { FILE_TYPES, parseTableSpec } from './spec.ts';
import { type Entry, logEntryWarnings, readTable, reloadTableEntry, statSignature, TableImpl, type TableMetrics, tableMetrics, validate } from './table-entry.ts';
import { type LookupTable, TableError } from './types.ts';

/** The compiled types, whose source file moat reads in postmap or postalias format (load.ts). */
const COMPILED = new Set(['hash', 'btree', 'lmdb']);

export interface Observe {
  logger?: Logger | undefined;
  registry?: Registry | undefined;
}

export interface TablesOptions extends Observe {
  /** Relative table paths are resolved against this directory (the config file's). */
  baseDir: string;
  /** Watch the files and reload on change (default false; `watch()` starts it later). */
  watch?: boolean | undefined;
  /** Interval of the stat poll that backs up fs.watch, in ms (default 2000). */
  pollMs?: number | undefined;
  /** Wait this long after a change event before reading (editors write in steps; default 100 ms). */
  settleMs?: number | undefined;
  /** Use fs.watch besides the poll (default true; false tests the poll alone, or suits odd file systems). */
  fsWatch?: boolean | undefined;
}

export interface OpenOptions {
  /**
   * Validates each right-hand side as written (for example an access action); returns why it is bad,
   * or undefined. Applied at open and at every reload: a table that fails it is a broken edit.
   */
  check?: ((value: string) => string | undefined) | undefined;
  /**
   * The source format of a hash/btree/lmdb file: `postalias` for alias_maps (aliases(5), `name: value`), `postmap`
   * (the default) otherwise. Like `check`, the first open of a spec decides it.
   */
  source?: SourceFormat | undefined;
}

/** A table opened by the registry: the contract plus what the registry knows about it. */
export interface OpenTable extends LookupTable {
  /** The file read, for file tables (absolute). */
  readonly file?: string | undefined;
  /** Entries (fixed tables) or rules (pattern tables) of the table now served. */
  readonly entries: number;
  /** Lines accepted with a warning (duplicates, `key:` format) in the table now served. */
  readonly warnings: ReadonlyArray<{ line: number; message: string }>;
  /** The entries now served with their lines (keys for fixed-string tables), for `moat config check`'s static checks. */
  rows(): ReadonlyArray<{ key?: string | undefined; value: string; line: number }>;
}

export interface ReloadResult {
  spec: string;
  file: string;
  result: 'reloaded' | 'unchanged' | 'error';
  /** The reason the file was refused (the last good table is still served). */
  error?: TableError | undefined;
}

export interface Tables {
  /**
   * Opens a table (once per spec: a second call returns the same table, and the first call's `check`
   * stays the one applied). Throws TableError.
   */
  open(spec: string, opts?: OpenOptions): OpenTable;
  /** A table already opened, by its spec as written. */
  get(spec: string): OpenTable | undefined;
  /** Every table opened so far. */
  list(): OpenTable[];
  /** Re-reads every file table now (SIGHUP); a broken file keeps its last good table. */
  reload(): ReloadResult[];
  /** Starts watching (idempotent), attaching a logger and metrics if none were given at creation. */
  watch(observe?: Observe): void;
  /** Stops watchers and timers. The tables keep answering with what they hold. */
  close(): void;
}

export function createTables(options: TablesOptions): Tables {
  const byName = new Map<string, Entry>();
  let logger = options.logger;
  let metrics: TableMetrics | undefined;
  const pollMs = options.pollMs ?? 2000;
  const settleMs = options.settleMs ?? 100;
  let watching = false;
  let closed = false;
  const watchers = new Map<string, FSWatcher>();
  const pending = new Map<string, NodeJS.Timeout>();
  let poll: NodeJS.Timeout | undefined;

  const attachMetrics = (registry: Registry | undefined) => {
    if (!registry || metrics) return;
    metrics = tableMetrics(registry);
    for (const e of byName.values()) metrics.entries.set({ table: e.table.spec }, e.table.entries);
  };
  attachMetrics(options.registry);

  const logWarnings = (e: Entry) => logEntryWarnings(e, logger);
  const reloadEntry = (e: Entry, force: boolean): ReloadResult | undefined => reloadTableEntry(e, force, metrics, logger);

  const reloadFile = (file: string, force: boolean) => {
    if (closed) return;
    for (const e of byName.values()) if (e.file === file) reloadEntry(e, force);
  };

  const watchFile = (file: string) => {
    const dir = dirname(file);
    if (options.fsWatch === false || watchers.has(dir)) return;
    try {
      // The directory, not the file: editors and `mv new old` replace the file, which ends a file watch.
      const w = fsWatch(dir, { persistent: false }, (_event, name) => {
        for (const e of byName.values()) {
          if (!e.file || dirname(e.file) !== dir || (name && basename(e.file) !== String(name))) continue;
          const f = e.file;
          clearTimeout(pending.get(f));
          const t = setTimeout(() => {
            pending.delete(f);
            reloadFile(f, false);
          }, settleMs);
          t.unref();
          pending.set(f, t);
        }
      });
      w.on('error', (err) => logger?.warn({ event: 'map-watch', dir, err: err.message }, 'directory watch failed: the stat poll still picks up changes'));
      watchers.set(dir, w);
    } catch (err) {
      logger?.warn({ event: 'map-watch', dir, err: (err as Error).message }, 'cannot watch the directory: the stat poll picks up changes');
    }
  };

  const startWatching = () => {
    if (watching || closed) return;
    watching = true;
    for (const e of byName.values()) if (e.file) watchFile(e.file);
    poll = setInterval(() => {
      for (const e of byName.values()) if (e.file) reloadEntry(e, false);
    }, pollMs);
    poll.unref();
  };

  const tables: Tables = {
    open(specText, opts = {}) {
      const key = specText.trim();
      const known = byName.get(key);
      if (known) {
        // one file, one source format: hash:/etc/aliases cannot be read as aliases(5) for one caller and postmap for another
        const was = known.source ?? 'postmap';
        const now = opts.source ?? 'postmap';
        if (was !== now && COMPILED.has(known.spec.type)) {
          throw new TableError('TABLE_TYPE', `${key} is already open in ${was} source format and cannot be read in ${now} format too (one file, one format): name it where one format applies`, { file: known.file });
        }
        return known.table;
      }
      const spec = parseTableSpec(key);
      let entry: Entry;
      if (FILE_TYPES.has(spec.type)) {
        const file = isAbsolute(spec.name) ? spec.name : resolve(options.baseDir, spec.name);
        const stat = statSignature(file);
        const text = readTable(file, spec.type);
        const parsed = parseTable(spec, text, file, opts.source);
        validate(parsed, file, opts.check);
        entry = { table: new TableImpl(key, spec.type, file, parsed, opts.source), spec, check: opts.check, source: opts.source, file, stat, hash: createHash('sha256').update(text).digest('hex') };
      } else {
        const parsed = parseTable(spec, '', key);
        validate(parsed, key, opts.check);
        entry = { table: new TableImpl(key, spec.type, undefined, parsed), spec, check: opts.check };
      }
      byName.set(key, entry);
      metrics?.entries.set({ table: key }, entry.table.entries);
      logWarnings(entry);
      if (watching && entry.file) watchFile(entry.file);
      return entry.table;
    },
    get: (spec) => byName.get(spec.trim())?.table,
    list: () => [...byName.values()].map((e) => e.table),
    reload() {
      const out: ReloadResult[] = [];
      for (const e of byName.values()) if (e.file && !closed) out.push(reloadEntry(e, true)!);
      return out;
    },
    watch(observe = {}) {
      logger ??= observe.logger;
      attachMetrics(observe.registry);
      startWatching();
    },
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
      if (poll) clearInterval(poll);
      poll = undefined;
    },
  };
  if (options.watch) startWatching();
  return tables;
}
