// A counter's Redis hash read back as the admin sees it (peek, list): its window, count and whether it refuses now.
// Trusts nothing in the hash: a key that is not one of ours reads as undefined.
import type { CounterState } from './limiter.ts';
import type { Redis } from 'ioredis';
import { counterPattern, LIMITS, type LimitName, PER_SERVICE } from './keys.ts';

/** The hash's fields (script.ts): s window start, u window length, l threshold, n count, w subject, k limit, x/lx refusals. `t`: now (s); `unit`: the default window. */
export function toState(h: Record<string, string>, t: number, unit: number): CounterState | undefined {
  const limit = h.k as LimitName;
  if (!h.s || !LIMITS.includes(limit)) return undefined;
  const start = Number(h.s);
  const window = Number(h.u ?? unit);
  const current = start + window >= t;
  const threshold = Number(h.l ?? 0);
  const count = current ? Number(h.n ?? 0) : 0;
  return {
    limit,
    subject: h.w ?? '',
    count,
    max: limit === 'auth_failure_limit' ? threshold + 1 : threshold,
    windowStart: start,
    windowEnd: start + window,
    refused: current ? Number(h.x ?? 0) : 0,
    lastRefused: h.lx ? Number(h.lx) : undefined,
    limited: current && count > threshold,
  };
}

/** The counters that refuse now, over every node (SCAN, at most `maxScan` keys), most refusals first. */
export async function listLimited(
  nodes: readonly Redis[],
  o: { prefix: string; unit: number; now: number; admin: <T>(f: () => Promise<T>) => Promise<T>; limit: number; maxScan: number },
): Promise<CounterState[]> {
  const { prefix, unit, admin } = o;
  const found: CounterState[] = [];
  let scanned = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await admin(() => node.scan(cursor, 'MATCH', counterPattern(prefix), 'COUNT', 1000));
      cursor = next;
      scanned += keys.length;
      if (keys.length === 0) continue;
      const rows = await admin(async () => {
        const p = node.pipeline();
        for (const k of keys) p.hgetall(k);
        return (await p.exec()) ?? [];
      });
      keys.forEach((k, i) => {
        const st = toState((rows[i]?.[1] as Record<string, string> | undefined) ?? {}, o.now, unit);
        if (!st?.limited) return;
        const service = PER_SERVICE.has(st.limit) ? k.slice(prefix.length).split(':')[1] : undefined;
        found.push({ ...st, ...(service !== undefined && { service }) });
      });
    } while (cursor !== '0' && scanned < o.maxScan);
  }
  found.sort((a, b) => b.refused - a.refused || b.count - a.count);
  return found.slice(0, o.limit);
}
