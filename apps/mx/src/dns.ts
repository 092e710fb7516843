// The gateway's DNS: one Resolver pointed at the configured servers (never the machine's), FCrDNS,
// and the resolver function mailauth takes. Trusts the configured resolver; answers are untrusted names.
import { Resolver } from 'node:dns/promises';
import { unmapIPv4 } from '@moat/policy';

export interface MxResolver {
  reverse(ip: string): Promise<string[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  /** dns.promises.resolve-shaped, for mailauth: (name, rrtype) -> records. */
  resolve(name: string, rrtype: string): Promise<unknown>;
}

export function createResolver(servers: readonly string[], timeoutMs: number): MxResolver {
  // c-ares: timeout is per try; two tries keeps the worst case near timeoutMs
  const r = new Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 2)), tries: 2 });
  r.setServers([...servers]);
  return {
    reverse: (ip) => r.reverse(ip),
    resolve4: (n) => r.resolve4(n),
    resolve6: (n) => r.resolve6(n),
    resolve: (n, t) => r.resolve(n, t),
  };
}

/**
 * A small TTL cache in front of a resolver: answers for `ttlMs`, "does not exist" answers (NXDOMAIN,
 * NODATA) for `negativeTtlMs`; timeouts and SERVFAIL are never cached. c-ares has no cache of its own,
 * and one client sends many messages: FCrDNS and SPF/DMARC would otherwise be asked again each time.
 */
export function cachingResolver(inner: MxResolver, opts: { ttlMs?: number; negativeTtlMs?: number; max?: number } = {}): MxResolver {
  const ttl = opts.ttlMs ?? 60_000;
  const negTtl = opts.negativeTtlMs ?? 30_000;
  const max = opts.max ?? 10_000;
  const cache = new Map<string, { until: number; value?: unknown; error?: unknown }>();
  // REFUSED is the server's policy, not a transient failure: cached like a negative answer
  const negative = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'NODATA', 'EREFUSED']);
  const inFlight = new Map<string, Promise<unknown>>();
  function cached<T>(key: string, run: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) return 'error' in hit ? Promise.reject(hit.error) : Promise.resolve(hit.value as T);
    if (hit) cache.delete(key);
    // concurrent sessions from one client ask the same names at once: one query for all of them
    const flying = inFlight.get(key);
    if (flying) return flying as Promise<T>;
    const p = run().then(
      (value) => {
        remember(key, { until: now + ttl, value });
        return value;
      },
      (error: unknown) => {
        if (negative.has((error as { code?: string })?.code ?? '')) remember(key, { until: now + negTtl, error });
        throw error;
      },
    );
    inFlight.set(key, p);
    const clear = () => inFlight.delete(key);
    p.then(clear, clear);
    return p;
  }
  function remember(key: string, entry: { until: number; value?: unknown; error?: unknown }) {
    cache.set(key, entry);
    if (cache.size > max) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
  }
  return {
    reverse: (ip) => cached(`PTR ${ip}`, () => inner.reverse(ip)),
    resolve4: (n) => cached(`A ${n.toLowerCase()}`, () => inner.resolve4(n)),
    resolve6: (n) => cached(`AAAA ${n.toLowerCase()}`, () => inner.resolve6(n)),
    resolve: (n, t) => cached(`${t} ${n.toLowerCase()}`, () => inner.resolve(n, t)),
  };
}

const hostname = /^(?=.{1,253}\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

export interface ClientIdentity {
  /** First PTR name that looks like a hostname (unverified). */
  reverseName?: string | undefined;
  /** A PTR name whose A/AAAA records include the client address (Postfix's "verified" client name). */
  clientName?: string | undefined;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error('dns timeout')), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

const norm = (a: string) => unmapIPv4(a.toLowerCase());

/** Forward-confirmed reverse DNS: PTR, then A/AAAA of each name (at most 5), within `timeoutMs` overall. */
export async function verifyClient(resolver: MxResolver, ip: string, timeoutMs: number): Promise<ClientIdentity> {
  const addr = norm(ip);
  const work = async (): Promise<ClientIdentity> => {
    let names: string[];
    try {
      names = (await resolver.reverse(addr)).filter((n) => hostname.test(n)).slice(0, 5);
    } catch {
      return {};
    }
    const reverseName = names[0]?.replace(/\.$/, '').toLowerCase();
    const v6 = addr.includes(':');
    for (const name of names) {
      try {
        const addrs = await (v6 ? resolver.resolve6(name) : resolver.resolve4(name));
        if (addrs.some((a) => norm(a) === addr)) return { reverseName, clientName: name.replace(/\.$/, '').toLowerCase() };
      } catch {
        // NXDOMAIN / timeout: this name does not verify
      }
    }
    return { reverseName };
  };
  try {
    return await withTimeout(work(), timeoutMs);
  } catch {
    return {};
  }
}
