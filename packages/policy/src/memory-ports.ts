// In-memory ports for tests, benchmarks and `moat explain`-style dry runs: scripted DNS lists, a
// greylist kept in a Map, a settable clock. Pure: no sockets, no timers; they trust their scripts.
import type { ClockPort, DnsListAnswer, DnsListPort, DnsListQuery, GreylistAnswer, GreylistPort, GreylistRequest, MailDomainAnswer, MailDomainPort, AccessMapPort } from './types.ts';
import { syncAccessMap } from './sync-access-map.ts';

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
  // Maps built once: the script's plain objects are slow dictionaries on the hot path. Answers for
  // scripted keys are values built once (per use, for zones with use-bound listings) and reused; an
  // unscripted key (most of them) gets a fresh small not-listed answer: cheaper than keeping one
  // per key ever asked (a cache that size misses the CPU caches on every query).
  interface Zone {
    listings: Map<string, DnsListing | 'unknown'>;
    byUse: boolean;
    answers: Map<string, DnsListAnswer>;
  }
  const zones = new Map<string, Zone>();
  for (const [zone, keys] of Object.entries(script)) {
    const byUse = Object.values(keys).some((l) => l !== 'unknown' && l.use !== undefined);
    zones.set(zone, { listings: new Map(Object.entries(keys)), byUse, answers: new Map() });
  }
  const answer = (q: DnsListQuery): DnsListAnswer => {
    const z = zones.get(q.zone);
    const hit = z?.listings.get(q.key);
    if (z === undefined || hit === undefined) return { zone: q.zone, key: q.key, status: 'not-listed', codes: [] };
    const slot = z.byUse && q.use !== undefined ? `${q.key}\u0000${q.use}` : q.key;
    let a = z.answers.get(slot);
    if (a) return a;
    if (hit === 'unknown') a = { zone: q.zone, key: q.key, status: 'unknown', codes: [], detail: 'timeout (scripted)' };
    else if (hit.codes.length > 0 && hit.use !== undefined && q.use !== undefined && hit.use !== q.use) {
      a = { zone: q.zone, key: q.key, status: 'not-listed', codes: [], detail: `${hit.codes.join(',')}: not a ${q.use} listing` };
    } else if (hit.codes.length > 0) a = { zone: q.zone, key: q.key, status: 'listed', codes: hit.codes as string[], txt: hit.txt };
    else a = { zone: q.zone, key: q.key, status: 'not-listed', codes: [] };
    z.answers.set(slot, a);
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

/**
 * A mail-domain port over a table (domain -> answer); any other domain answers `fallback`
 * (default `ok`). Counts the questions asked; answers synchronously too.
 */
export function createMemoryMailDomains(table: Readonly<Record<string, MailDomainAnswer>>, fallback: MailDomainAnswer = 'ok'): MailDomainPort & { asked: string[]; checkSync(domain: string): MailDomainAnswer } {
  const byName = new Map(Object.entries(table).map(([d, a]) => [d.toLowerCase().replace(/\.$/, ''), a]));
  const asked: string[] = [];
  const checkSync = (domain: string): MailDomainAnswer => {
    asked.push(domain);
    return byName.get(domain.toLowerCase().replace(/\.$/, '')) ?? fallback;
  };
  return { asked, checkSync, check: (domain) => Promise.resolve(checkSync(domain)) };
}

/**
 * Access maps in memory: map name -> key -> right-hand side, exact keys (as hash: tables after
 * postmap). Records every (map, key) asked, in order; a map listed in `failing` throws (a lookup
 * failure). Answers synchronously too.
 */
export function createMemoryAccessMaps(
  tables: Readonly<Record<string, Readonly<Record<string, string>>>>,
  failing: readonly string[] = [],
): AccessMapPort & { asked: Array<[string, string]>; lookupSync(map: string, key: string): string | undefined } {
  const maps = new Map(Object.entries(tables).map(([name, t]) => [name, new Map(Object.entries(t))]));
  const asked: Array<[string, string]> = [];
  const lookupSync = (map: string, key: string): string | undefined => {
    asked.push([map, key]);
    if (failing.includes(map)) throw new Error(`${map}: lookup failed (scripted)`);
    const t = maps.get(map);
    if (!t) throw new Error(`access map ${map} is not loaded`);
    return t.get(key);
  };
  return { asked, ...syncAccessMap(lookupSync) };
}
