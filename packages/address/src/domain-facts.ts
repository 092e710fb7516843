// What the resolver asks once per domain rather than once per address (its class, whether lookups treat it as
// local, its `@domain` virtual alias entry), kept until a table changes. Trusts the tables' generation counters.
import type { LookupTable } from '@moat/maps';
import type { ResolverSpec } from './types.ts';

/** A memo of per-domain answers. Domains are client input: the memo is bounded and starts over when full. */
export interface DomainMemo<T> {
  get(domain: string): T;
}

/**
 * Memoizes `compute(domain)` while every table in `tables` serves the same snapshot (the sum of their
 * `generation` counters is unchanged; a table without one never changes). An answer that throws (a table
 * that cannot answer) is not kept. Holds at most `max` keys: when full it starts over, or with `lru`
 * keeps the recently used ones (two generations of `max / 2` keys, as npm's hashlru: new keys go to the
 * young one, a hit in the old one moves its key to the young one, a full young one becomes the old one and
 * the old one is dropped), every step O(1); Map iteration order is not used, as deleting at the front of a
 * V8 Map leaves holes that `keys().next()` walks. Any string key works (the recipient port keys it by address).
 */
export function memoByDomain<T>(
  tables: readonly LookupTable[],
  compute: (domain: string) => T,
  opts: { max?: number; lru?: boolean; secondSighting?: boolean; onChange?: () => void } = {},
): DomainMemo<T> {
  const max = opts.max ?? 4096;
  const half = Math.max(1, Math.floor(max / 2));
  const lru = opts.lru === true;
  // secondSighting: a key is kept the second time it is computed (TinyLFU's doorkeeper): a stream of keys
  // never seen again (unique +tags) then costs a hash, not a Map insert that keeps a fresh string alive.
  const door = opts.secondSighting ? new Int32Array(1 << 16) : undefined;
  const seenBefore = (key: string): boolean => {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const slot = (h >>> 0) & 0xffff;
    if ((door as Int32Array)[slot] === h) return true;
    (door as Int32Array)[slot] = h;
    return false;
  };
  const watched = [...new Set(tables)].filter((t) => 'generation' in t);
  let memo = new Map<string, T>();
  let old = new Map<string, T>();
  /** lru: keep `v` in the young generation, turning a full young one into the old one. */
  const young = (key: string, v: T): void => {
    memo.set(key, v);
    if (memo.size >= half) {
      old = memo;
      memo = new Map();
    }
  };
  let lastKey = '';
  let lastValue: T | undefined;
  let stamp = 0;
  const now = (): number => {
    let s = 0;
    for (let i = 0; i < watched.length; i++) s += (watched[i] as LookupTable).generation ?? 0;
    return s;
  };
  stamp = now();
  return {
    get(domain: string): T {
      if (watched.length > 0) {
        const s = now();
        if (s !== stamp) {
          memo.clear();
          old.clear();
          lastValue = undefined;
          stamp = s;
          opts.onChange?.();
        }
      }
      // One address asks about its domain several times: the last answer first, then the memo (not with lru,
      // whose keys are whole answers, asked once per call; and a key not yet kept must be seen twice).
      if (!lru && domain === lastKey && lastValue !== undefined) return lastValue;
      let v = memo.get(domain);
      if (v === undefined && lru) {
        v = old.get(domain);
        if (v !== undefined) young(domain, v);
        else {
          v = compute(domain);
          if (door === undefined || seenBefore(domain)) young(domain, v);
        }
      } else if (v === undefined) {
        v = compute(domain);
        if (memo.size >= max) memo.clear();
        memo.set(domain, v);
      }
      lastKey = domain;
      lastValue = v;
      return v;
    },
  };
}

/** Which keys a set of fixed-string tables holds, by shape: the domains of their `user@domain` keys, and bare `user` keys. */
export interface KeyShapes {
  /** Some table has a key `...@domain` (so the full-address and user@domain keys may match). */
  hasAddressKeys(domain: string): boolean;
  /** Some table has a key without `@` (so the local-part keys may match, for local domains). */
  readonly localPartKeys: boolean;
}

type Listable = LookupTable & { keys?: () => Iterable<string>; rows?: () => ReadonlyArray<{ key?: string | undefined }> };

/**
 * The key shapes of `tables` (read once; build it again when a table reloads), or undefined when a table
 * cannot list its keys or is a pattern table (then every key must be asked). Keys are folded as looked up.
 */
export function keyShapes(tables: readonly LookupTable[]): KeyShapes | undefined {
  const domains = new Set<string>();
  let localPartKeys = false;
  for (const t of tables as readonly Listable[]) {
    if (t.pattern) return undefined;
    let keys: Iterable<string | undefined>;
    if (typeof t.keys === 'function') keys = t.keys();
    else if (typeof t.rows === 'function') keys = t.rows().map((r) => r.key);
    else return undefined;
    for (const k of keys) {
      if (k === undefined) return undefined;
      const at = k.lastIndexOf('@');
      if (at < 0) localPartKeys = true;
      else if (at > 0) domains.add(k.slice(at + 1).toLowerCase());
    }
  }
  return { hasAddressKeys: (d) => domains.has(d), localPartKeys };
}

/** Every table a resolver over `spec` may ask (each once): a reload of any of them can change an answer. */
export function specTables(spec: ResolverSpec): readonly LookupTable[] {
  const all = [
    ...(spec.mydestinationMaps ?? []),
    ...(spec.virtualAliasDomainMaps ?? []),
    ...(spec.virtualMailboxDomainMaps ?? []),
    ...(spec.relayDomainMaps ?? []),
    ...spec.virtualAliasMaps,
    ...spec.aliasMaps,
    ...(spec.localRecipientMaps ?? []),
    ...spec.virtualMailboxMaps,
    ...(spec.relayRecipientMaps ?? []),
    ...spec.transportMaps,
  ];
  return Object.freeze([...new Set(all)]);
}
