// Reads the apps' Prometheus endpoints for the live counters: decisions per restriction, DNS list results per zone.
// Trusts the URLs the admin configured, not what they return: parsing is bounded and drops what it cannot read.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ScrapeSource {
  url: string;
  ok: boolean;
  error?: string | undefined;
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
        for (const s of parseMetrics(text)) {
          const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
          const prev = sum.get(key);
          if (prev) prev.value += s.value;
          else sum.set(key, { ...s, labels: { ...s.labels } });
        }
        sources.push({ url, ok: true });
      } catch (e) {
        sources.push({ url, ok: false, error: (e as Error).message });
      }
    }),
  );
  return { sources, samples: [...sum.values()] };
}

/** Decisions per deciding restriction and action (moat_decisions_total), most first. */
export function decisionCounters(samples: readonly Sample[]): { restriction: string; action: string; count: number }[] {
  return samples
    .filter((s) => s.name === 'moat_decisions_total')
    .map((s) => ({ restriction: s.labels.restriction ?? 'none', action: s.labels.action ?? '?', count: s.value }))
    .sort((a, b) => b.count - a.count);
}

/** Per zone: lookups by result, listings and errors (moat_dnslist_*). */
export function zoneCounters(samples: readonly Sample[]): { zone: string; lookups: Record<string, number>; hits: number; errors: number; healthy?: number | undefined }[] {
  const zones = new Map<string, { zone: string; lookups: Record<string, number>; hits: number; errors: number; healthy?: number | undefined }>();
  const z = (name: string) => {
    let e = zones.get(name);
    if (!e) zones.set(name, (e = { zone: name, lookups: {}, hits: 0, errors: 0 }));
    return e;
  };
  for (const s of samples) {
    const zone = s.labels.zone;
    if (!zone) continue;
    if (s.name === 'moat_dnslist_lookups_total') z(zone).lookups[s.labels.result ?? '?'] = (z(zone).lookups[s.labels.result ?? '?'] ?? 0) + s.value;
    else if (s.name === 'moat_dnslist_hits_total') z(zone).hits += s.value;
    else if (s.name === 'moat_dnslist_errors_total') z(zone).errors += s.value;
    else if (s.name === 'moat_dnslist_zone_healthy') z(zone).healthy = s.value;
  }
  return [...zones.values()].sort((a, b) => a.zone.localeCompare(b.zone));
}
