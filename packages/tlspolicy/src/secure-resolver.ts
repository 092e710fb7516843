// The lookups outbound TLS policy needs (TLSA, MX, TXT, addresses), each with its DNSSEC status.
// Asked through @moat/dns's wire client and caching rule. Trusts the configured validating resolver's AD bit
// and nothing else; a failure is never read as "none".
import { isIP } from 'node:net';
import { exchange, memo, parseResolver, perTryTimeout, type Reply, RR, type WireRecord } from '@moat/dns';
import { parseTlsa, type TlsaRecord } from './tlsa.ts';

/** An answer: `records` empty means NXDOMAIN/NODATA; `secure` means the resolver validated it (AD). */
export interface Lookup<T> {
  secure: boolean;
  records: T[];
}

/** A lookup that gave no usable answer: timeout, SERVFAIL (a validating resolver's answer to bogus data), garbage. */
export class DnsLookupError extends Error {
  readonly kind: 'timeout' | 'servfail' | 'failed';
  constructor(kind: 'timeout' | 'servfail' | 'failed', message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface SecureResolver {
  tlsa(name: string): Promise<Lookup<TlsaRecord>>;
  mx(domain: string): Promise<Lookup<{ exchange: string; priority: number }>>;
  txt(name: string): Promise<Lookup<string>>;
  /** IPv4 then IPv6 addresses (for the MTA-STS policy host). */
  addresses(host: string): Promise<string[]>;
  /**
   * The host's A and AAAA records (CNAMEs followed by the resolver), `secure` when every lookup that found
   * records was validated and at least one did: RFC 7672 2.2.2's test before a TLSA lookup.
   */
  hostAddresses(host: string): Promise<Lookup<string>>;
}

export interface WireResolverOptions {
  /** The budget of one lookup, all tries included (ms): @moat/dns's timeout rule (perTryTimeout). */
  timeoutMs?: number;
  /**
   * Keep answers (records, NXDOMAIN and NODATA, with their AD bit) as long as their TTL says, up to this many
   * (name, type) pairs: @moat/dns's one caching rule (memo) with a day's cap. The delivery thread asks the same
   * MX, MTA-STS TXT, address and TLSA questions for every message to a domain. Failures are never kept;
   * concurrent identical questions share one query. 0: nothing kept.
   */
  cacheEntries?: number;
  /** Clock for the cache (tests). */
  now?: () => number;
}

/** Longest time an answer is kept, whatever its TTL (Unbound's cache-max-ttl default). */
const MAX_TTL_MS = 86_400_000;
/** Longest time "no such record" is kept, in seconds (@moat/dns's negativeMaxMs default, 15 min). */
const NEGATIVE_MAX_S = 900;

/** What a lookup keeps: the reply's AD bit and its records of the asked type. */
interface Answer {
  ad: boolean;
  records: WireRecord[];
}

/** A SecureResolver over one or more validating resolvers (`IP[:port]`), asked like every moat DNS question. */
export function wireResolver(servers: string[], opts: WireResolverOptions = {}): SecureResolver {
  if (servers.length === 0) throw new Error('tls policy: a validating resolver must be configured');
  const addresses = servers.map((s) => parseResolver(s));
  const timeoutMs = opts.timeoutMs ?? 5000;
  const cache = memo({ answerMs: MAX_TTL_MS, max: opts.cacheEntries ?? 0, ...(opts.now ? { now: opts.now } : {}) });
  const ask = (name: string, type: number): Promise<Answer> =>
    cache.ask(`${type} ${name.toLowerCase().replace(/\.$/, '')}`, () => askServers(name, type));
  async function askServers(name: string, type: number): Promise<{ data: Answer; ttl: number }> {
    // an address literal (a next hop written [IP]) has no DNS records, and none of them secure: no DANE for it
    if (isIP(name.replace(/^\[|\]$/g, ''))) return { data: { ad: false, records: [] }, ttl: 0 };
    let r: Reply | undefined;
    try {
      r = await exchange(addresses, name, type, { perTryMs: perTryTimeout(timeoutMs), deadline: Date.now() + timeoutMs, ad: true, servfailFinal: true });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ETIMEOUT') throw new DnsLookupError('timeout', `${name}: no answer in ${timeoutMs} ms`);
      throw new DnsLookupError(code === 'ESERVFAIL' ? 'servfail' : 'failed', `${name}: ${(e as Error).message}`);
    }
    if (!r) throw new DnsLookupError('failed', `${name.slice(0, 100)}: not a name moat asks for`);
    if (r.rcode === 2) throw new DnsLookupError('servfail', `SERVFAIL for ${name} (DNSSEC validation failed or the zone is unreachable)`);
    if (r.rcode !== 0 && r.rcode !== 3) throw new DnsLookupError('failed', `rcode ${r.rcode} for ${name}`);
    // records: the smallest TTL (CNAMEs included); NXDOMAIN/NODATA: the SOA's negative TTL (RFC 2308), 0 without one,
    // at most NEGATIVE_MAX_S as the caching resolver's rule (a TLSA record published later is seen within it)
    return { data: { ad: r.ad, records: r.records }, ttl: r.records.length ? r.ttl : Math.min(r.negativeTtl ?? 0, NEGATIVE_MAX_S) };
  }
  const of = <T>(a: Answer, map: (r: WireRecord) => T | undefined): Lookup<T> => ({
    secure: a.ad,
    records: a.records.flatMap((r) => {
      const v = map(r);
      return v === undefined ? [] : [v];
    }),
  });
  return {
    async tlsa(name) {
      return of(await ask(name, RR.TLSA), (r) => parseTlsa(r.data));
    },
    async mx(domain) {
      return of(await ask(domain, RR.MX), (r) => ({ exchange: r.target ?? '', priority: r.preference ?? 0 }));
    },
    async txt(name) {
      return of(await ask(name, RR.TXT), (r) => {
        const parts: string[] = [];
        for (let i = 0; i < r.data.length; ) {
          const len = r.data[i]!;
          parts.push(r.data.subarray(i + 1, i + 1 + len).toString('utf8'));
          i += 1 + len;
        }
        return parts.join('');
      });
    },
    async hostAddresses(host) {
      const [a, aaaa] = await Promise.all([ask(host, RR.A), ask(host, RR.AAAA)]);
      const v4 = of(a, (r) => (r.data.length === 4 ? [...r.data].join('.') : undefined));
      const v6 = of(aaaa, (r) => (r.data.length === 16 ? Array.from({ length: 8 }, (_, i) => r.data.readUInt16BE(i * 2).toString(16)).join(':') : undefined));
      const found = [v4, v6].filter((l) => l.records.length > 0);
      return { secure: found.length > 0 && found.every((l) => l.secure), records: [...v4.records, ...v6.records] };
    },
    async addresses(host) {
      const v4 = of(await ask(host, RR.A), (r) => (r.data.length === 4 ? [...r.data].join('.') : undefined)).records;
      if (v4.length) return v4;
      return of(await ask(host, RR.AAAA), (r) =>
        r.data.length === 16 ? Array.from({ length: 8 }, (_, i) => r.data.readUInt16BE(i * 2).toString(16)).join(':') : undefined,
      ).records;
    },
  };
}
