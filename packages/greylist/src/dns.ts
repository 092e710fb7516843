// The SPF check's DNS: @moat/dns's client (the configured resolver only, its one caching rule), answers as values.
// Trusts the configured resolver (the bundled Unbound); never Node's default resolver or /etc/resolv.conf.
import { type CachingDns, createDns, dnsFailureKind, type MxRecord } from '@moat/dns';

/** `ok`: records; `none`: NXDOMAIN/NODATA (a fact); `error`: timeout/SERVFAIL/REFUSED (unknown). */
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

const WIRE_TYPE = { txt: 'TXT', a: 'A', aaaa: 'AAAA', mx: 'MX' } as const;

/**
 * A question's records as SpfDns gives them, from what the @moat/dns method resolves (or the memo holds): TXT
 * chunks joined, MX exchanges by preference, A/AAAA as they are. The one shaping both paths use.
 */
function shape(type: SpfQuestion, data: unknown): DnsResult<string[]> {
  const out =
    type === 'txt'
      ? (data as string[][]).map((chunks) => chunks.join(''))
      : type === 'mx'
        ? [...(data as MxRecord[])].sort((x, y) => x.priority - y.priority).map((m) => m.exchange)
        : (data as string[]);
  return out.length ? { status: 'ok', data: out } : { status: 'none' };
}

/** SpfDns over one @moat/dns client (cached by its rule; identical questions in flight share one query). */
export function spfDns(dns: CachingDns): SpfDns & { size(): number } {
  const ask = (type: SpfQuestion, q: Promise<unknown>): Promise<DnsResult<string[]>> =>
    q.then(
      (data) => shape(type, data),
      (e: unknown) => failed(e),
    );
  return {
    held(type, name) {
      const h = dns.held(WIRE_TYPE[type], name);
      if (h === undefined) return undefined;
      // a held failure ("does not exist", or a SERVFAIL/REFUSED kept briefly) as the method's rejection gives it
      return h.error !== undefined ? failed(h.error) : shape(type, h.data);
    },
    txt: (name) => ask('txt', dns.resolveTxt(name)),
    a: (name) => ask('a', dns.resolve4(name)),
    aaaa: (name) => ask('aaaa', dns.resolve6(name)),
    mx: (name) => ask('mx', dns.resolveMx(name)),
    size: () => dns.size(),
  };
}

/** A caching client on one resolver. */
export function createCachingDns(opts: CachingDnsOptions): SpfDns & { size(): number } {
  const cache = { ...(opts.maxEntries !== undefined && { max: opts.maxEntries }), ...(opts.now && { now: opts.now }) };
  return spfDns(createDns({ servers: [opts.server], timeoutMs: opts.timeoutMs ?? 1000, cache }));
}
