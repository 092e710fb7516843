// Serves the policy engine's access-map port (AccessMapPort: lookup / lookupSync by map name) from lookup
// tables. Trusts the tables it is given; an unknown map throws, which the engine turns into a 451.
import type { LookupTable } from './types.ts';

/** Structurally @moat/policy's AccessMapPort (with lookupSync), without depending on the engine. */
export interface TableAccessMap {
  lookup(map: string, key: string): Promise<string | undefined>;
  lookupSync(map: string, key: string): string | undefined;
  /** The table behind a map name, e.g. to ask whether it is a pattern table (Postfix's DICT_FLAG_PATTERN). */
  table(map: string): LookupTable | undefined;
}

/**
 * An access-map port over tables found by `resolve(map)` (usually `tables.get`). A map that resolves to
 * nothing is a lookup failure, never "not found": Postfix answers 451 4.3.0 for a table it cannot read.
 */
export function createTableAccessMap(resolve: (map: string) => LookupTable | undefined): TableAccessMap {
  const lookupSync = (map: string, key: string): string | undefined => {
    const t = resolve(map);
    if (!t) throw new Error(`access map ${map} is not loaded`);
    return t.lookup(key);
  };
  return {
    lookupSync,
    table: resolve,
    lookup(map, key) {
      try {
        return Promise.resolve(lookupSync(map, key));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
