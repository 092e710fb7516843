// The lookups outbound TLS policy needs (TLSA, MX, TXT, addresses), each with its DNSSEC status.
// Trusts the configured validating resolver's AD bit and nothing else; a failure is never read as "none".
import { DnsTimeoutError, queryWire, RR, type WireAnswer } from './dns-wire.ts';
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
  timeoutMs?: number;
  /**
   * Keep answers (records, NXDOMAIN and NODATA, with their AD bit) as long as their TTL says, up to this many
   * (name, type) pairs, and ask once for concurrent identical questions: the delivery thread asks the same MX,
   * MTA-STS TXT, address and TLSA questions for every message to a domain. Failures are never kept. 0: off.
   */
  cacheEntries?: number;
  /** Clock for the cache (tests). */
  now?: () => number;
}

/** Longest time an answer is kept, whatever its TTL (Unbound's cache-max-ttl default). */
const MAX_TTL_S = 86_400;

/** A SecureResolver over one or more validating resolvers (`host:port`), tried in order on timeout. */
export function wireResolver(servers: string[], opts: WireResolverOptions = {}): SecureResolver {
  if (servers.length === 0) throw new Error('tls policy: a validating resolver must be configured');
  const timeoutMs = opts.timeoutMs ?? 5000;
  const cacheEntries = opts.cacheEntries ?? 0;
  const now = opts.now ?? Date.now;
  const kept = new Map<string, { answer: WireAnswer; until: number }>();
  const asking = new Map<string, Promise<WireAnswer>>();
  function ask(name: string, type: number): Promise<WireAnswer> {
    if (cacheEntries <= 0) return askServers(name, type);
    const key = `${type} ${name.toLowerCase()}`;
    const hit = kept.get(key);
    if (hit && hit.until > now()) return Promise.resolve(hit.answer);
    if (hit) kept.delete(key);
    const running = asking.get(key);
    if (running) return running;
    const p = askServers(name, type).then(
      (answer) => {
        asking.delete(key);
        const ttl = Math.min(answer.ttl, MAX_TTL_S);
        if (ttl > 0) {
          if (kept.size >= cacheEntries) kept.delete(kept.keys().next().value as string);
          kept.set(key, { answer, until: now() + ttl * 1000 });
        }
        return answer;
      },
      (e: unknown) => {
        asking.delete(key);
        throw e;
      },
    );
    asking.set(key, p);
    return p;
  }
  async function askServers(name: string, type: number): Promise<WireAnswer> {
    let last: unknown;
    for (const s of servers) {
      try {
        const a = await queryWire(s, name, type, timeoutMs);
        if (a.rcode === 2) throw new DnsLookupError('servfail', `SERVFAIL for ${name} (DNSSEC validation failed or the zone is unreachable)`);
        if (a.rcode !== 0 && a.rcode !== 3) throw new DnsLookupError('failed', `rcode ${a.rcode} for ${name}`);
        return a;
      } catch (e) {
        if (e instanceof DnsLookupError) throw e;
        last = e;
        if (!(e instanceof DnsTimeoutError)) break;
      }
    }
    if (last instanceof DnsTimeoutError) throw new DnsLookupError('timeout', `${name}: ${last.message}`);
    throw new DnsLookupError('failed', `${name}: ${(last as Error)?.message ?? 'no answer'}`);
  }
  const of = <T>(a: WireAnswer, type: number, map: (r: WireAnswer['answers'][number]) => T | undefined): Lookup<T> => ({
    secure: a.ad,
    records: a.answers.filter((r) => r.type === type).flatMap((r) => {
      const v = map(r);
      return v === undefined ? [] : [v];
    }),
  });
  return {
    async tlsa(name) {
      return of(await ask(name, RR.TLSA), RR.TLSA, (r) => parseTlsa(r.data));
    },
    async mx(domain) {
      return of(await ask(domain, RR.MX), RR.MX, (r) => ({ exchange: r.target ?? '', priority: r.preference ?? 0 }));
    },
    async txt(name) {
      return of(await ask(name, RR.TXT), RR.TXT, (r) => {
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
      const v4 = of(a, RR.A, (r) => (r.data.length === 4 ? [...r.data].join('.') : undefined));
      const v6 = of(aaaa, RR.AAAA, (r) => (r.data.length === 16 ? Array.from({ length: 8 }, (_, i) => r.data.readUInt16BE(i * 2).toString(16)).join(':') : undefined));
      const found = [v4, v6].filter((l) => l.records.length > 0);
      return { secure: found.length > 0 && found.every((l) => l.secure), records: [...v4.records, ...v6.records] };
    },
    async addresses(host) {
      const v4 = of(await ask(host, RR.A), RR.A, (r) => (r.data.length === 4 ? [...r.data].join('.') : undefined)).records;
      if (v4.length) return v4;
      return of(await ask(host, RR.AAAA), RR.AAAA, (r) =>
        r.data.length === 16 ? Array.from({ length: 8 }, (_, i) => r.data.readUInt16BE(i * 2).toString(16)).join(':') : undefined,
      ).records;
    },
  };
}
