// One DNS list question answered: the zone's state, the query name, the A answer classified by the zone's
// profile and filter, and the TXT for a listing. Never throws for a bad answer; trusts its profile, not the list.
import { performance } from 'node:perf_hooks';
import type { Logger } from '@moat/observe';
import { type Classified, classify } from './classify.ts';
import type { DnsListRequest, DnsListResult } from './client.ts';
import type { ListQueries } from './list-queries.ts';
import type { DnsListMetrics } from './metrics.ts';
import { queryName } from './query-name.ts';
import type { Zone } from './zone.ts';
import { normZone, targetKind, type ZoneTable } from './zone-table.ts';

export interface ZoneLookupDeps {
  table: ZoneTable;
  queries: ListQueries;
  m: DnsListMetrics;
  log: Logger;
  timeoutMs: number;
  wantTxt: boolean;
}

/** `one(q, deadline)`: the answer to one request, within the batch's deadline (performance.now() ms). */
export function createZoneLookup(d: ZoneLookupDeps): (q: DnsListRequest, deadline: number) => Promise<DnsListResult> {
  const { table, queries, m, log, timeoutMs, wantTxt } = d;
  const { zoneFor, hide } = table;
  const { resolveA, resolveTxt } = queries;
  function warnZone(z: Zone, c: Classified, key: string): void {
    for (const e of c.errors) {
      m.warnings.inc({ zone: z.display, reason: 'error-code' });
      z.warnings++;
      z.lastWarning = `${e.code}: ${e.meaning}`;
      log.warn({ zone: z.display, code: e.code, meaning: e.meaning, key }, 'DNS list zone-health warning: operator error answer, not a listing');
    }
    for (const e of c.outOfRange) {
      m.warnings.inc({ zone: z.display, reason: 'out-of-range' });
      z.warnings++;
      z.lastWarning = `${e.code}: ${e.meaning}`;
      log.warn({ zone: z.display, code: e.code, key }, 'DNS list zone-health warning: answer outside 127.0.0.0/8, not a listing');
    }
  }

  async function one(q: DnsListRequest, deadline: number): Promise<DnsListResult> {
    const zoneName = normZone(q.zone);
    const base = { zone: q.zone, key: q.key, codes: [] as string[] };
    const z = zoneFor(zoneName);
    // logs and labels name the zone by its display name: a DQS key never leaves in them
    const shown = z.display;
    z.seen.add(targetKind(q.target));
    if (z.state === 'disabled') {
      m.errors.inc({ zone: shown, kind: 'disabled' });
      m.lookups.inc({ zone: shown, result: 'unknown' });
      return { ...base, status: 'unknown', detail: `zone disabled by health check: ${z.reason ?? 'unhealthy'}` };
    }
    const qn = queryName(zoneName, q.target, q.key);
    if (!qn.ok) {
      // A client "address" that is no IP cannot be judged; a HELO literal simply is not a domain.
      const status = q.target === 'client' ? 'unknown' : 'not-listed';
      if (status === 'unknown') m.errors.inc({ zone: shown, kind: 'invalid' });
      m.lookups.inc({ zone: shown, result: status });
      return { ...base, status, detail: qn.detail };
    }
    const started = performance.now();
    const raw = await resolveA(qn.name, Math.min(timeoutMs, deadline - started));
    m.latency.observe({ zone: shown }, (performance.now() - started) / 1000);
    if (raw.kind === 'fail') {
      m.errors.inc({ zone: shown, kind: raw.reason });
      m.lookups.inc({ zone: shown, result: 'unknown' });
      log.warn({ zone: shown, target: q.target, key: q.key, reason: raw.reason, detail: hide(raw.detail) }, 'DNS list lookup failed open');
      return { ...base, status: 'unknown', detail: hide(raw.detail) };
    }
    if (raw.kind === 'none') {
      m.lookups.inc({ zone: shown, result: 'not-listed' });
      return { ...base, status: 'not-listed' };
    }
    const c = classify(z.profile, raw.codes, q.use, z.only);
    warnZone(z, c, q.key);
    const dropped = [...c.errors, ...c.outOfRange, ...c.dropped].map((d) => `${d.code} (${d.meaning})`);
    if (c.listings.length === 0) {
      m.lookups.inc({ zone: shown, result: 'not-listed' });
      return { ...base, status: 'not-listed', detail: `not a listing: ${dropped.join('; ')}` };
    }
    m.lookups.inc({ zone: shown, result: 'listed' });
    m.hits.inc({ zone: shown });
    const remaining = deadline - performance.now();
    const txt = wantTxt && remaining > 1 ? await resolveTxt(qn.name, Math.min(timeoutMs, remaining)) : undefined;
    const meanings = c.listings.map((l) => `${l.code} ${l.meaning}`);
    if (dropped.length > 0) meanings.push(`dropped ${dropped.join('; ')}`);
    return {
      ...base,
      status: 'listed',
      codes: c.listings.map((l) => l.code),
      // a list's TXT is untrusted text for a reply: it must not quote the keyed zone either
      txt: txt === undefined ? undefined : hide(txt),
      detail: meanings.join('; '),
      weight: z.options.weight ?? Math.max(...c.listings.map((l) => l.weight)),
    };
  }
  return one;
}
