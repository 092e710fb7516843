// One view per DNS list zone for both zone tables: the journal's counts, the deciding nodes' failure counters by kind
// and the health check's state, joined by the zone's display name so the two tables cannot disagree. Pure.
import { type ZoneHealth, zoneDisplayName } from '@moat/dnslist';
import type { ZoneCounts } from '@moat/journal';
import type { ScrapedZone } from './scrape.ts';

export interface ZoneView {
  zone: string;
  /** The health check's state (healthy, unreachable, disabled, unchecked), when this console checks the zone. */
  state?: string | undefined;
  reason?: string | undefined;
  profile?: string | undefined;
  checkedAt?: number | undefined;
  warnings?: number | undefined;
  lastWarning?: string | undefined;
  /** From the journal window: DNS-list restrictions on the zone that ran, matched, and got no answer (failed open). */
  checked: number;
  hits: number;
  errors: number;
  /** From the nodes' metrics since their start: lookups by result, failures by kind (servfail, timeout, ...). */
  lookups?: Record<string, number> | undefined;
  failures?: Record<string, number> | undefined;
  /** The nodes' own health gauge (1 healthy or unchecked, 0 disabled or unreachable), when scraped. */
  healthy?: number | undefined;
}

const key = (zone: string) => zoneDisplayName(zone).toLowerCase();

export function zoneView(journal: readonly ZoneCounts[], scraped: readonly ScrapedZone[], health: readonly ZoneHealth[]): ZoneView[] {
  const out = new Map<string, ZoneView>();
  const at = (zone: string) => {
    const k = key(zone);
    let v = out.get(k);
    if (!v) out.set(k, (v = { zone: zoneDisplayName(zone), checked: 0, hits: 0, errors: 0 }));
    return v;
  };
  for (const h of health) Object.assign(at(h.zone), { zone: h.zone, state: h.state, reason: h.reason, profile: h.profile, checkedAt: h.checkedAt, warnings: h.warnings, lastWarning: h.lastWarning });
  for (const j of journal) {
    const v = at(j.zone);
    v.checked += j.checked;
    v.hits += j.hits;
    v.errors += j.errors;
  }
  for (const s of scraped) Object.assign(at(s.zone), { lookups: s.lookups, failures: s.failures, healthy: s.healthy });
  return [...out.values()].sort((a, b) => a.zone.localeCompare(b.zone));
}

/** True when the zone cannot be trusted now: the health check or the nodes say so, or lookups fail. */
export function zoneFailing(z: ZoneView): boolean {
  return z.state === 'unreachable' || z.state === 'disabled' || z.healthy === 0 || z.errors > 0;
}
