// In-memory ports for tests, benchmarks and `moat explain`-style dry runs: scripted DNS lists, a
// greylist kept in a Map, a settable clock. Pure: no sockets, no timers; they trust their scripts.
import type { ClockPort, DnsListAnswer, DnsListPort, DnsListQuery, GreylistAnswer, GreylistPort, GreylistRequest } from './types.ts';

export interface DnsListing {
  /** The A records the zone answers (after the provider profile). */
  codes: readonly string[];
  txt?: string | undefined;
  /**
   * Which use the listing serves (a mixed list such as hostkarma: its whitelist code is no
   * blacklisting): a query for the other use answers not-listed. Unset: every use.
   */
  use?: 'allow' | 'block' | undefined;
}

/** zone -> key (IP literal or domain) -> listing, or 'unknown' to script a timeout/SERVFAIL. */
export type DnsScript = Readonly<Record<string, Readonly<Record<string, DnsListing | 'unknown'>>>>;

export function createMemoryDnsList(script: DnsScript): DnsListPort & { lookups: number; queries: number; last: readonly DnsListQuery[] } {
  // Maps built once: the script's plain objects are slow dictionaries on the hot path.
  const zones = new Map<string, Map<string, DnsListing | 'unknown'>>();
  // Zones with use-bound listings cache their answers per use (the others once per zone).
  const zonesWithUse = new Set<string>();
  for (const [zone, keys] of Object.entries(script)) {
    zones.set(zone, new Map(Object.entries(keys)));
    if (Object.values(keys).some((l) => l !== 'unknown' && l.use !== undefined)) zonesWithUse.add(zone);
  }
  // Answers are values: built once per (key, zone) and reused (bounded, for long benches). Keyed by
  // the name first: one decision asks many zones about the same client, so the last key is memoised.
  const answers = new Map<string, Map<string, DnsListAnswer>>();
  let cached = 0;
  let lastKey = '';
  let lastByZone: Map<string, DnsListAnswer> | undefined;
  const answer = (q: DnsListQuery): DnsListAnswer => {
    let byZone = q.key === lastKey ? lastByZone : answers.get(q.key);
    if (!byZone) answers.set(q.key, (byZone = new Map()));
    lastKey = q.key;
    lastByZone = byZone;
    const slot = q.use !== undefined && zonesWithUse.has(q.zone) ? `${q.zone}\u0000${q.use}` : q.zone;
    let a = byZone.get(slot);
    if (a) return a;
    const hit = zones.get(q.zone)?.get(q.key);
    if (hit === 'unknown') a = { zone: q.zone, key: q.key, status: 'unknown', codes: [], detail: 'timeout (scripted)' };
    else if (hit && hit.codes.length > 0 && hit.use !== undefined && q.use !== undefined && hit.use !== q.use) {
      a = { zone: q.zone, key: q.key, status: 'not-listed', codes: [], detail: `${hit.codes.join(',')}: not a ${q.use} listing` };
    } else if (hit && hit.codes.length > 0) a = { zone: q.zone, key: q.key, status: 'listed', codes: hit.codes as string[], txt: hit.txt };
    else a = { zone: q.zone, key: q.key, status: 'not-listed', codes: [] };
    if (++cached > 200_000) {
      answers.clear();
      cached = 0;
      lastKey = '';
      lastByZone = undefined;
      answers.set(q.key, (byZone = new Map()));
    }
    byZone.set(slot, a);
    return a;
  };
  const port = {
    lookups: 0,
    queries: 0,
    last: [] as readonly DnsListQuery[],
    lookup(queries: readonly DnsListQuery[]): Promise<DnsListAnswer[]> {
      port.lookups++;
      port.queries += queries.length;
      port.last = queries;
      const out: DnsListAnswer[] = new Array(queries.length);
      for (let i = 0; i < queries.length; i++) out[i] = answer(queries[i]!);
      return Promise.resolve(out);
    },
  };
  return port;
}

/** A clock the test moves by hand. */
export function createManualClock(start = 1_700_000_000_000): ClockPort & { advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
    set(ms) {
      t = ms;
    },
  };
}

export interface MemoryGreylistOptions {
  clock: ClockPort;
  /** Seconds before a retry passes. */
  delay?: number | undefined;
  /** Clients (exact addresses) that always pass. */
  whitelist?: readonly string[] | undefined;
}

/**
 * A greylist in a Map keyed by (client /24 or address, sender, recipient): first attempt defers,
 * a retry after `delay` passes and stays passed. Semantics only; the real one is @moat/greylist.
 */
export function createMemoryGreylist(opts: MemoryGreylistOptions): GreylistPort & { size(): number } {
  const delayMs = (opts.delay ?? 60) * 1000;
  const firstSeen = new Map<string, number>();
  const white = new Set(opts.whitelist ?? []);
  return {
    size: () => firstSeen.size,
    check(r: GreylistRequest): Promise<GreylistAnswer> {
      if (white.has(r.clientAddress)) return Promise.resolve({ action: 'pass', reason: 'whitelist' });
      const net = r.clientAddress.includes(':') ? r.clientAddress : r.clientAddress.replace(/\.\d+$/, '.0');
      const key = `${net}\u0000${r.sender.toLowerCase()}\u0000${r.recipient.toLowerCase()}`;
      const now = opts.clock.now();
      const seen = firstSeen.get(key);
      if (seen === undefined) {
        firstSeen.set(key, now);
        return Promise.resolve({ action: 'defer', retryAfter: delayMs / 1000 });
      }
      if (now - seen < delayMs) return Promise.resolve({ action: 'defer', retryAfter: Math.ceil((seen + delayMs - now) / 1000) });
      return Promise.resolve({ action: 'pass', reason: 'retry', header: `X-Greylist: delayed ${Math.round((now - seen) / 1000)} seconds by moat` });
    },
  };
}
