// The SPF check's DNS: @moat/dns's client (the configured resolver only, its one caching rule), answers as values.
// Trusts the configured resolver (the bundled Unbound); never Node's default resolver or /etc/resolv.conf.
import { type CachingDns, createDns, dnsFailureKind } from '@moat/dns';

/** `ok`: records; `none`: NXDOMAIN/NODATA (a fact); `error`: timeout/SERVFAIL (unknown). */
export type DnsResult<T> = { status: 'ok'; data: T } | { status: 'none' } | { status: 'error'; detail: string };

export type SpfQuestion = 'txt' | 'a' | 'aaaa' | 'mx';

export interface SpfDns {
  txt(name: string): Promise<DnsResult<string[]>>;
  a(name: string): Promise<DnsResult<string[]>>;
  aaaa(name: string): Promise<DnsResult<string[]>>;
  mx(name: string): Promise<DnsResult<string[]>>;
  /**
   * The answer the cache holds now, as the method of that type would give it, or undefined (then ask):
   * lets an SPF check whose answers are all held finish without a promise. Optional (test zones leave it out).
   */
  held?(type: SpfQuestion, name: string): DnsResult<string[]> | undefined;
}

export interface CachingDnsOptions {
  /** `IP` or `IP:port` (`[v6]:port`) of the resolver to ask. */
  server: string;
  /** One question's budget, both tries (ms). */
  timeoutMs?: number;
  /** Max cached answers (oldest dropped first). */
  maxEntries?: number;
  /** Clock for cache expiry, ms. */
  now?: () => number;
}

const failed = (e: unknown): DnsResult<never> =>
  dnsFailureKind(e) === 'none' ? { status: 'none' } : { status: 'error', detail: (e as NodeJS.ErrnoException).code ?? String(e) };

function answer<T>(ask: Promise<T[]>): Promise<DnsResult<T[]>> {
  return ask.then(
    (data): DnsResult<T[]> => (data.length ? { status: 'ok', data } : { status: 'none' }),
    (e: unknown): DnsResult<T[]> => failed(e),
  );
}

const WIRE_TYPE = { txt: 'TXT', a: 'A', aaaa: 'AAAA', mx: 'MX' } as const;

/** SpfDns over one @moat/dns client (cached by its rule; identical questions in flight share one query). */
export function spfDns(dns: CachingDns): SpfDns & { size(): number } {
  return {
    held(type, name) {
      const h = dns.held(WIRE_TYPE[type], name);
      if (h === undefined) return undefined;
      if (h.error !== undefined) return failed(h.error);
      // the same shapes as below: TXT chunks joined, MX by preference
      const data =
        type === 'txt'
          ? (h.data as string[][]).map((chunks) => chunks.join(''))
          : type === 'mx'
            ? [...(h.data as { exchange: string; priority: number }[])].sort((x, y) => x.priority - y.priority).map((m) => m.exchange)
            : (h.data as string[]);
      return data.length ? { status: 'ok', data } : { status: 'none' };
    },
    txt: (name) => answer(dns.resolveTxt(name).then((rrs) => rrs.map((chunks) => chunks.join('')))),
    a: (name) => answer(dns.resolve4(name)),
    aaaa: (name) => answer(dns.resolve6(name)),
    mx: (name) => answer(dns.resolveMx(name).then((rrs) => [...rrs].sort((x, y) => x.priority - y.priority).map((m) => m.exchange))),
    size: () => dns.size(),
  };
}

/** A caching client on one resolver. */
export function createCachingDns(opts: CachingDnsOptions): SpfDns & { size(): number } {
  const cache = { ...(opts.maxEntries !== undefined && { max: opts.maxEntries }), ...(opts.now && { now: opts.now }) };
  return spfDns(createDns({ servers: [opts.server], timeoutMs: opts.timeoutMs ?? 1000, cache }));
}
