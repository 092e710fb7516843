// Reads the apps' Prometheus endpoints for the live counters: decisions per restriction, DNS list results per zone.
// Trusts the URLs the admin configured, not what they return: parsing is bounded and drops what it cannot read.
import { type NodeState, nodeState } from './node-state.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ScrapeSource {
  url: string;
  ok: boolean;
  error?: string | undefined;
  /** This node's stress and reload state (node-state.ts), when it answered. */
  state?: NodeState | undefined;
}

const MAX_BODY = 4 * 1024 * 1024;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text format, keeping `moat_*` samples (histogram buckets dropped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('moat_')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1]!.endsWith('_bucket')) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Fetches every URL (2 s each, concurrently) and sums samples with the same name and labels across them. */
export async function scrape(urls: readonly string[], timeoutMs = 2000): Promise<{ sources: ScrapeSource[]; samples: Sample[] }> {
  const sources: ScrapeSource[] = [];
  const sum = new Map<string, Sample>();
  await Promise.all(
    urls.map(async (url) => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const text = await res.text();
        if (text.length > MAX_BODY) throw new Error('metrics page too large');
        const samples = parseMetrics(text);
        for (const s of samples) {
          const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
          const prev = sum.get(key);
          if (prev) prev.value += s.value;
          else sum.set(key, { ...s, labels: { ...s.labels } });
        }
        sources.push({ url, ok: true, state: nodeState(samples) });
      } catch (e) {
        sources.push({ url, ok: false, error: (e as Error).message });
      }
    }),
  );
  return { sources, samples: [...sum.values()] };
}

/**
 * Decisions per deciding restriction and action (moat_decisions_total), most first, with the gateway's refusals
 * after DATA (moat_mx_rejects_total{stage="end-of-data"}: size, header block, spamassassin), which are decisions too.
 */
export function decisionCounters(samples: readonly Sample[]): { restriction: string; action: string; count: number }[] {
  const out = new Map<string, { restriction: string; action: string; count: number }>();
  for (const s of samples) {
    let restriction: string;
    let action: string;
    if (s.name === 'moat_decisions_total') {
      restriction = s.labels.restriction ?? 'none';
      action = s.labels.action ?? '?';
    } else if (s.name === 'moat_mx_rejects_total' && s.labels.stage === 'end-of-data') {
      restriction = s.labels.restriction ?? 'none';
      action = (s.labels.code ?? '5').startsWith('4') ? 'defer' : 'reject';
    } else continue;
    const k = `${restriction}\u0000${action}`;
    const d = out.get(k) ?? { restriction, action, count: 0 };
    d.count += s.value;
    out.set(k, d);
  }
  return [...out.values()].sort((a, b) => b.count - a.count);
}

export interface ScrapedZone {
  zone: string;
  lookups: Record<string, number>;
  hits: number;
  /** moat_dnslist_errors_total summed, and by kind (timeout, servfail, refused, ...). */
  errors: number;
  failures: Record<string, number>;
  healthy?: number | undefined;
}

/** Per zone: lookups by result, listings and errors (moat_dnslist_*). */
export function zoneCounters(samples: readonly Sample[]): ScrapedZone[] {
  const zones = new Map<string, ScrapedZone>();
  const z = (name: string) => {
    let e = zones.get(name);
    if (!e) zones.set(name, (e = { zone: name, lookups: {}, hits: 0, errors: 0, failures: {} }));
    return e;
  };
  const add = (into: Record<string, number>, k: string | undefined, n: number) => {
    into[k ?? '?'] = (into[k ?? '?'] ?? 0) + n;
  };
  for (const s of samples) {
    const zone = s.labels.zone;
    if (!zone) continue;
    if (s.name === 'moat_dnslist_lookups_total') add(z(zone).lookups, s.labels.result, s.value);
    else if (s.name === 'moat_dnslist_hits_total') z(zone).hits += s.value;
    else if (s.name === 'moat_dnslist_errors_total') {
      z(zone).errors += s.value;
      add(z(zone).failures, s.labels.kind, s.value);
    } else if (s.name === 'moat_dnslist_zone_healthy') z(zone).healthy = s.value;
  }
  return [...zones.values()].sort((a, b) => a.zone.localeCompare(b.zone));
}
