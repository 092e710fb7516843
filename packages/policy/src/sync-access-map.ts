// An access-map port over a synchronous lookup (in-memory tables): the engine calls lookupSync on its fast path,
// and lookup() is the same answer as a promise, a thrown error becoming a rejection. Trusts its lookup.
import type { AccessMapPort } from './types.ts';

export type SyncAccessMap = AccessMapPort & { lookupSync(map: string, key: string): string | undefined };

export function syncAccessMap(lookupSync: (map: string, key: string) => string | undefined): SyncAccessMap {
  return {
    lookupSync,
    lookup: (map, key) => {
      try {
        return Promise.resolve(lookupSync(map, key));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
