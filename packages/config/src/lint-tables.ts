// `moat config check`'s look into the routing tables: transport_maps entries (lintTransportMaps) and alias loops
// (lintAliases), each problem placed at the table file's line. Trusts the opened tables; never throws.
import { type AliasProblem, lintAliases, lintTransportMaps, type ResolverSpec } from '@moat/address';
import type { LookupTable } from '@moat/maps';

/** One finding: where (`file:line` of the entry, else the table as written), the key, what is wrong. */
export interface TableFinding {
  severity: AliasProblem['severity'];
  /** `transport_maps`, `virtual_alias_maps` or `alias_maps`. */
  param: string;
  where: string;
  key: string;
  message: string;
}

type WithRows = LookupTable & { file?: string | undefined; rows(): ReadonlyArray<{ key?: string | undefined; line: number }> };
const hasRows = (t: LookupTable): t is WithRows => typeof (t as Partial<WithRows>).rows === 'function';

/**
 * Runs the address package's table lints over the compiled routing: every listable table's entries (texthash, hash,
 * btree, lmdb from their source files, inline; a static table's one value) are checked; pattern tables (regexp,
 * pcre, cidr) are named as not checked. Problems carry the entry's file and line when the table was read from a file.
 */
export function lintRoutingTables(spec: ResolverSpec): TableFinding[] {
  const bySpec = new Map<string, LookupTable>();
  for (const t of [...spec.transportMaps, ...spec.virtualAliasMaps, ...spec.aliasMaps]) bySpec.set(t.spec, t);
  // each table's key -> line, built once, when the first finding in it asks
  const lines = new Map<WithRows, Map<string, number>>();
  const lineOf = (t: WithRows, key: string): number | undefined => {
    let m = lines.get(t);
    if (!m) {
      m = new Map();
      for (const r of t.rows()) if (r.key !== undefined && !m.has(r.key)) m.set(r.key, r.line);
      lines.set(t, m);
    }
    return m.get(key);
  };
  return [...lintTransportMaps(spec), ...lintAliases(spec)].map((p) => {
    const space = p.table.indexOf(' ');
    const param = space < 0 ? p.table : p.table.slice(0, space);
    const tableSpec = space < 0 ? '' : p.table.slice(space + 1);
    const t = bySpec.get(tableSpec);
    let where = tableSpec;
    if (t && hasRows(t) && t.file !== undefined) {
      const line = p.key === '' ? undefined : lineOf(t, p.key);
      where = line !== undefined ? `${t.file}:${line}` : t.file;
    }
    return { severity: p.severity, param, where, key: p.key, message: p.message };
  });
}
