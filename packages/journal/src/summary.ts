// Counters over a window of journal entries: decisions per deciding restriction and action, hits per DNS list zone.
// Pure: reads entries only (the console's live view; Prometheus has the long-term counters).
import { restrictionArgument } from '@moat/policy';
import type { JournalEntry } from './entry.ts';

export interface ZoneCounts {
  zone: string;
  /** Restrictions on this zone that ran (not skipped). */
  checked: number;
  /** Of those, how many matched (listed: permit or reject/defer). */
  hits: number;
  /** Of those, how many could not be answered: SERVFAIL, timeout, refused (failed open, `dunno` with an unknown answer) or a port error. */
  errors: number;
}

export interface JournalSummary {
  /** Entries summarised. */
  decisions: number;
  /** Oldest and newest entry times (ms), when any. */
  from?: number | undefined;
  to?: number | undefined;
  byAction: Record<string, number>;
  /** Deciding restriction (`none` when nothing decided) -> action -> count, most decisions first. */
  byRestriction: { restriction: string; action: string; count: number }[];
  byZone: ZoneCounts[];
}

/**
 * A DNS-list trace line whose lookup got no answer: the engine fails open (`dunno`) and says so in the reason
 * (`<key>: unknown, treated as not listed (SERVFAIL)`, policy's restrictions/dns-lists.ts), or the port threw (`error`).
 */
export function lookupFailed(t: { outcome: string; reason?: string | undefined }): boolean {
  return t.outcome === 'error' || (t.outcome === 'dunno' && /^\S+: unknown\b/.test(t.reason ?? ''));
}

/** The zone a trace line names, when the restriction is a DNS list check (`reject_rbl_client zen.example=127.0.0.2`). */
export function zoneOfTrace(restriction: string): string | undefined {
  const [type, arg] = restriction.trim().split(/\s+/, 2);
  if (!type || !arg || restrictionArgument(type) !== 'dns') return undefined;
  return arg.split('=')[0]?.toLowerCase().replace(/\.$/, '');
}

export function summarize(entries: readonly JournalEntry[]): JournalSummary {
  const byAction: Record<string, number> = {};
  const byRestriction = new Map<string, { restriction: string; action: string; count: number }>();
  const byZone = new Map<string, ZoneCounts>();
  let from: number | undefined;
  let to: number | undefined;
  for (const e of entries) {
    from = from === undefined ? e.time : Math.min(from, e.time);
    to = to === undefined ? e.time : Math.max(to, e.time);
    const action = e.verdict.action;
    byAction[action] = (byAction[action] ?? 0) + 1;
    const restriction = e.verdict.decidedBy ?? 'none';
    const k = `${restriction}\u0000${action}`;
    const r = byRestriction.get(k) ?? { restriction, action, count: 0 };
    r.count++;
    byRestriction.set(k, r);
    for (const t of e.verdict.trace) {
      const zone = zoneOfTrace(t.restriction);
      if (!zone || t.outcome === 'skip') continue;
      const z = byZone.get(zone) ?? { zone, checked: 0, hits: 0, errors: 0 };
      z.checked++;
      if (lookupFailed(t)) z.errors++;
      else if (t.outcome !== 'dunno') z.hits++;
      byZone.set(zone, z);
    }
  }
  return {
    decisions: entries.length,
    from,
    to,
    byAction,
    byRestriction: [...byRestriction.values()].sort((a, b) => b.count - a.count || a.restriction.localeCompare(b.restriction)),
    byZone: [...byZone.values()].sort((a, b) => b.hits - a.hits || a.zone.localeCompare(b.zone)),
  };
}
