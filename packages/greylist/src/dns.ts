// A small caching DNS client for SPF: the configured resolver only, bounded cache, answers as values.
// Trusts the configured resolver (the bundled Unbound); never Node's default resolver or /etc/resolv.conf.
import { Resolver } from 'node:dns/promises';

/** `ok`: records; `none`: NXDOMAIN/NODATA (a fact, cached); `error`: timeout/SERVFAIL (unknown, barely cached). */
export type DnsResult<T> = { status: 'ok'; data: T } | { status: 'none' } | { status: 'error'; detail: string };

export interface SpfDns {
  txt(name: string): Promise<DnsResult<string[]>>;
  a(name: string): Promise<DnsResult<string[]>>;
  aaaa(name: string): Promise<DnsResult<string[]>>;
  mx(name: string): Promise<DnsResult<string[]>>;
}

export interface CachingDnsOptions {
  /** `IP` or `IP:port` (`[v6]:port`) of the resolver to ask. */
  server: string;
  timeoutMs?: number;
  /** Max cached answers (oldest dropped first). */
  maxEntries?: number;
  /** TTL for TXT/MX answers (Node does not report their TTL), seconds. */
  defaultTtl?: number;
  /** TTL for NXDOMAIN/NODATA, seconds. */
  negativeTtl?: number;
  /** Clock for cache expiry, ms. */
  now?: () => number;
}

const NONE_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/** A caching client on one resolver. In-flight queries for the same name/type are shared. */
export function createCachingDns(opts: CachingDnsOptions): SpfDns & { size(): number } {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 1000, tries: 2 });
  resolver.setServers([opts.server]);
  const maxEntries = opts.maxEntries ?? 5000;
  const defaultTtl = opts.defaultTtl ?? 300;
  const negativeTtl = opts.negativeTtl ?? 60;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { until: number; value: DnsResult<string[]> }>();
  const inflight = new Map<string, Promise<DnsResult<string[]>>>();

  const put = (key: string, value: DnsResult<string[]>, ttl: number) => {
    cache.delete(key);
    cache.set(key, { until: now() + ttl * 1000, value });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  };

  const cached = (type: string, name: string, run: () => Promise<{ data: string[]; ttl?: number }>) => {
    const n = name.toLowerCase().replace(/\.$/, '');
    const key = `${type} ${n}`;
    const hit = cache.get(key);
    if (hit && hit.until > now()) return Promise.resolve(hit.value);
    const pending = inflight.get(key);
    if (pending) return pending;
    const p = run()
      .then(({ data, ttl }): DnsResult<string[]> => {
        const v: DnsResult<string[]> = data.length ? { status: 'ok', data } : { status: 'none' };
        put(key, v, data.length ? Math.min(3600, Math.max(30, ttl ?? defaultTtl)) : negativeTtl);
        return v;
      })
      .catch((e: NodeJS.ErrnoException): DnsResult<string[]> => {
        if (e.code && NONE_CODES.has(e.code)) {
          put(key, { status: 'none' }, negativeTtl);
          return { status: 'none' };
        }
        // Unknown answers are kept 5 s only, so a burst does not hammer a sick resolver.
        const v: DnsResult<string[]> = { status: 'error', detail: e.code ?? String(e) };
        put(key, v, 5);
        return v;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  const addr = (rrs: { address: string; ttl: number }[]) => ({
    data: rrs.map((r) => r.address),
    ttl: rrs.reduce((m, r) => Math.min(m, r.ttl), defaultTtl),
  });

  return {
    txt: (name) => cached('TXT', name, async () => ({ data: (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')) })),
    a: (name) => cached('A', name, async () => addr(await resolver.resolve4(name, { ttl: true }))),
    aaaa: (name) => cached('AAAA', name, async () => addr(await resolver.resolve6(name, { ttl: true }))),
    mx: (name) =>
      cached('MX', name, async () => ({
        data: (await resolver.resolveMx(name)).sort((x, y) => x.priority - y.priority).map((m) => m.exchange),
      })),
    size: () => cache.size,
  };
}
