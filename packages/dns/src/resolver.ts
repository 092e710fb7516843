// The one DNS client: a c-ares Resolver on the configured servers (never the machine's resolv.conf), one
// timeout rule, and the one caching rule (cache.ts). Trusts the configured resolver; answers are untrusted names.
import { Resolver } from 'node:dns/promises';
import type { Logger, Registry } from '@moat/observe';
import { type CacheOptions, type Held, memo } from './cache.ts';
import { dnsMetrics } from './metrics.ts';
import { type ResolverAddress, parseResolver } from './server-address.ts';
import { DnsAnswerError } from './transport.ts';
import { askTxt, FALL_BACK } from './txt-question.ts';

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** The questions moat asks. A failure rejects with node:dns's error (its `code`; dnsFailureKind reads it). */
export interface Dns {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
  resolveMx(name: string): Promise<MxRecord[]>;
  reverse(ip: string): Promise<string[]>;
  /** dns.promises.resolve-shaped, for mailauth: (name, rrtype) -> records. */
  resolve(name: string, rrtype: string): Promise<unknown>;
}

/** A caching Dns also answers past its memo, for questions that must see the zone now (health probes). */
export interface CachingDns extends Dns {
  readonly fresh: Dns;
  /** Entries held (answers, "does not exist", and a SERVFAIL/REFUSED kept `failureMs`). */
  size(): number;
  /**
   * The memo's answer to a question, if it holds one now (no promise, no query): `{ data }` as the method for
   * that type resolves (MX records unsorted), `{ error }` as it rejects ("does not exist", or a SERVFAIL/REFUSED
   * every try got, kept `failureMs`). Undefined: ask.
   */
  held(type: 'A' | 'AAAA' | 'TXT' | 'MX', name: string): Held<unknown> | undefined;
}

export interface DnsOptions {
  /** `IP`, `IP:port` or `[v6]:port` each (host names are refused: ResolverConfigError). */
  servers: readonly string[];
  /** The whole budget of one question, both tries included (ms). */
  timeoutMs: number;
  /** false: no memo (every question goes to the resolver; identical ones in flight still share one query). */
  cache?: false | CacheOptions;
  /** Counts a kept failure served (moat_dns_held_failures_total by kind). */
  registry?: Registry;
  /** A debug line per kept failure served (which question, which code). */
  logger?: Pick<Logger, 'debug'>;
}

/**
 * The timeout rule: `timeoutMs` is the budget of one question. c-ares sends two tries and doubles the
 * wait for the second, so the first gets a third and the whole stays near `timeoutMs` (one retry covers a
 * lost UDP datagram; more would outlast the SMTP command that waits). Callers that need a hard cap
 * (a batch budget) race the promise themselves.
 */
export function perTryTimeout(timeoutMs: number): number {
  return Math.max(50, Math.floor(timeoutMs / 3));
}

interface WithTtl {
  aTtl(name: string, family: 4 | 6): Promise<{ data: string[]; ttl: number }>;
  txtTtl(name: string): Promise<{ data: string[][]; ttl?: number }>;
}

/**
 * TXT by c-ares (TCP after a truncated reply, FORMERR, odd names) within what is left of the question's budget:
 * its own channel, so that running out cancels this question only; ETIMEOUT at `deadline`.
 */
function caresTxt(addresses: readonly ResolverAddress[], name: string, deadline: number): Promise<string[][]> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(new DnsAnswerError('ETIMEOUT', name));
  const r = new Resolver({ timeout: perTryTimeout(left), tries: 2 });
  r.setServers(addresses.map((a) => a.server));
  let timer: NodeJS.Timeout | undefined;
  const out = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      r.cancel();
      reject(new DnsAnswerError('ETIMEOUT', name));
    }, left);
  });
  return Promise.race([r.resolveTxt(name), out]).finally(() => clearTimeout(timer));
}

function uncached(servers: readonly string[], timeoutMs: number): Dns & WithTtl {
  if (servers.length === 0) throw new Error('dns: no resolver configured (moat never uses the machine resolver)');
  const r = new Resolver({ timeout: perTryTimeout(timeoutMs), tries: 2 });
  const addresses = servers.map((s) => parseResolver(s));
  r.setServers(addresses.map((a) => a.server));
  return {
    resolve4: (n) => r.resolve4(n),
    resolve6: (n) => r.resolve6(n),
    resolveTxt: (n) => r.resolveTxt(n),
    resolveMx: (n) => r.resolveMx(n),
    reverse: (ip) => r.reverse(ip),
    resolve: (n, t) => r.resolve(n, t),
    // TXT (SPF, DMARC, DKIM: the most asked names that may not exist) is asked on the wire, so that a
    // negative answer brings its SOA's TTL to the caching rule (cache.ts); c-ares asks when it must (TCP),
    // within the same budget.
    async txtTtl(n) {
      const deadline = Date.now() + timeoutMs;
      const a = await askTxt(addresses, n, perTryTimeout(timeoutMs), deadline);
      return a === FALL_BACK ? { data: await caresTxt(addresses, n, deadline) } : a;
    },
    async aTtl(n, family) {
      const rrs = family === 4 ? await r.resolve4(n, { ttl: true }) : await r.resolve6(n, { ttl: true });
      return { data: rrs.map((x) => x.address), ttl: rrs.reduce((m, x) => Math.min(m, x.ttl), Number.POSITIVE_INFINITY) };
    },
  };
}

/** The client every component builds: cached by the one rule unless `cache: false`. */
export function createDns(opts: DnsOptions & { cache?: CacheOptions }): CachingDns;
export function createDns(opts: DnsOptions & { cache: false }): Dns;
export function createDns(opts: DnsOptions): Dns | CachingDns {
  const inner = uncached(opts.servers, opts.timeoutMs);
  if (opts.cache === false) {
    const { aTtl: _, txtTtl: __, ...plain } = inner;
    return plain;
  }
  // a resolver's SERVFAIL/REFUSED is kept 5 s (cache.ts, docs/design.md "DNS")
  const metrics = opts.registry ? dnsMetrics(opts.registry) : undefined;
  const onHeldFailure = (question: string, error: unknown) => {
    metrics?.heldFailure(error);
    opts.logger?.debug({ event: 'dns-held-failure', question, code: (error as { code?: unknown }).code }, 'a kept resolver failure answered, not asked again');
  };
  const m = memo({ failureMs: 5000, onHeldFailure, ...(opts.cache ?? {}) });
  const key = (type: string, name: string) => `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
  const { aTtl: _, txtTtl: __, ...fresh } = inner;
  return {
    resolve4: (n) => m.ask(key('A', n), () => inner.aTtl(n, 4)),
    resolve6: (n) => m.ask(key('AAAA', n), () => inner.aTtl(n, 6)),
    resolveTxt: (n) => m.ask(key('TXT', n), () => inner.txtTtl(n)),
    resolveMx: (n) => m.ask(key('MX', n), async () => ({ data: await inner.resolveMx(n) })),
    reverse: (ip) => m.ask(key('PTR', ip), async () => ({ data: await inner.reverse(ip) })),
    resolve: (n, t) => {
      const type = t.toUpperCase();
      if (type === 'A' || type === 'AAAA') return m.ask(key(type, n), () => inner.aTtl(n, type === 'A' ? 4 : 6));
      if (type === 'TXT') return m.ask(key(type, n), () => inner.txtTtl(n));
      return m.ask(key(type, n), async () => ({ data: await inner.resolve(n, t) }));
    },
    fresh,
    size: () => m.size(),
    held: (type, name) => m.peek(key(type, name)),
  };
}
