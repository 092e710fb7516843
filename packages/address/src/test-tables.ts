// In-memory LookupTables for tests: a fixed-string table from a Record, a regexp-like pattern table, a broken one.
// Test helper only (not exported from the package); @moat/maps holds the real tables.
import { type LookupTable, TableError } from '@moat/maps';

/** A hash:-like table: keys folded to lower case, as Postfix's fixed-string tables do. */
export function memoryTable(entries: Record<string, string>, spec = 'texthash:/test/table'): LookupTable & { asked: string[]; keys(): Iterable<string> } {
  const m = new Map(Object.entries(entries).map(([k, v]) => [k.toLowerCase(), v]));
  const asked: string[] = [];
  return {
    spec,
    type: 'texthash',
    pattern: false,
    asked,
    keys: () => m.keys(),
    lookup(key: string) {
      asked.push(key);
      return m.get(key.toLowerCase());
    },
  };
}

/** A regexp:-like table: first matching pattern wins, `$1`..`$9` substituted. */
export function patternTable(rules: ReadonlyArray<readonly [RegExp, string]>, spec = 'regexp:/test/table'): LookupTable & { asked: string[] } {
  const asked: string[] = [];
  return {
    spec,
    type: 'regexp',
    pattern: true,
    asked,
    lookup(key: string) {
      asked.push(key);
      for (const [re, rhs] of rules) {
        const m = re.exec(key);
        if (m) return rhs.replace(/\$(\d)/g, (_, n: string) => m[Number(n)] ?? '');
      }
      return undefined;
    },
  };
}

/** A table that cannot answer (never loaded). */
export function brokenTable(spec = 'hash:/test/broken'): LookupTable {
  return {
    spec,
    type: 'hash',
    pattern: false,
    lookup() {
      throw new TableError('TABLE_UNAVAILABLE', `${spec}: not loaded`);
    },
  };
}
