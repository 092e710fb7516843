// The DNS list client (DnsListPort): concurrent lookups under one budget, provider profiles, zone health.
// Talks only to the one resolver it is configured with (never Node's default); trusts no answer blindly.
import { performance } from 'node:perf_hooks';
import { createDns, dnsFailureKind, isLocalAddress, parseResolver, type ResolverAddress } from '@moat/dns';
import type { Logger, Registry } from '@moat/observe';
import {
  type ClockPort,
  type DnsListAnswer,
  type DnsListPort,
  type DnsListQuery,
  type DnsTarget,
  matchesCode,
  parseCodeFilter,
} from '@moat/policy';
import { type Classified, classify, validateProfile } from './classify.ts';
import { createMetrics, type DnsListMetrics } from './metrics.ts';
import { ProfileConfigError, type ProfileInput, profileForZone, profileTable } from './profiles.ts';
import { queryName } from './query-name.ts';
import { validDisplayName, zoneDisplayName } from './display-name.ts';
import { probeZone } from './health.ts';
import { type Raw, type Zone, type ZoneHealth, zoneHealth, type ZoneOptions } from './zone.ts';

export type { ZoneHealth, ZoneOptions, ZoneState } from './zone.ts';

export interface DnsListOptions {
  /** The resolver: `IP`, `IP:port` or `[v6]:port`. Host names are refused. */
  resolver: string;
  /** Per-lookup timeout (default 1500 ms). */
  timeoutMs?: number | undefined;
  /** Whole-batch budget (default 2500 ms): nothing holds `lookup()` longer. */
  budgetMs?: number | undefined;
  /** Health-check interval (default 5 min); 0 disables the periodic check. */
  healthIntervalMs?: number | undefined;
  /** Run a health check at creation (default true). */
  healthOnStart?: boolean | undefined;
  /** Fetch the TXT reason for listed answers (default true). */
  txt?: boolean | undefined;
  /**
   * The operator's own profiles (a same-named one replaces the shipped profile), as a list or as
   * config's `name: profile` map; checked with normaliseProfile (throws ProfileConfigError).
   */
  profiles?: ProfileInput | undefined;
  /** Zones known up front (health-checked from the start) and their settings. */
  zones?: Readonly<Record<string, ZoneOptions>> | undefined;
  registry: Registry;
  logger: Logger;
  clock?: ClockPort | undefined;
}

/**
 * A query may say what the listing is for, so mixed lists (hostkarma) count only the right codes.
 * `use` is part of the port contract (DnsListQuery) too: the engine sets it from the restriction
 * (permit_* -> allow, reject_* -> block) and asks a zone once per use.
 */
export interface DnsListRequest extends DnsListQuery {
  use?: 'allow' | 'block' | undefined;
}

export interface DnsListResult extends DnsListAnswer {
  /** Weight of the listing (listed answers only). */
  weight?: number | undefined;
}

export interface DnsList extends DnsListPort {
  lookup(queries: readonly DnsListRequest[]): Promise<DnsListResult[]>;
  /** Probe every known zone now (RFC 5782 test points) and return the new states. */
  checkHealth(): Promise<ZoneHealth[]>;
  /** Per-zone state, for the CLI and console. */
  health(): ZoneHealth[];
  /** Settles when the start-up health check is done. */
  readonly ready: Promise<void>;
  /** Stop the periodic health check. */
  close(): void;
}

const TIMEOUT = Symbol('timeout');

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), TIMEOUT);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function failureOf(err: unknown): Raw {
  const code = (err as { code?: string }).code ?? '';
  switch (dnsFailureKind(err)) {
    case 'none':
      return { kind: 'none' };
    case 'timeout':
      return { kind: 'fail', reason: 'timeout', detail: 'resolver timed out' };
    case 'servfail':
      return { kind: 'fail', reason: 'servfail', detail: 'SERVFAIL (zone servers unreachable or broken)' };
    case 'refused':
      return { kind: 'fail', reason: 'refused', detail: `resolver refused (${code})` };
    default:
      return { kind: 'fail', reason: 'error', detail: `resolver error ${code || String(err)}` };
  }
}

/** TXT from a list is untrusted text headed for an SMTP reply: printable ASCII only, bounded. */
export function sanitiseTxt(records: string[][]): string | undefined {
  const text = records
    .map((r) => r.join(''))
    .join(' / ')
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/\s+/g, ' ')
    .trim();
  if (text === '') return undefined;
  return text.length > 400 ? `${text.slice(0, 397)}...` : text;
}

/**
 * Apply the admin's return-code filter (Postfix syntax, `undefined`/'' = any) to an answer: a listed
 * answer whose codes all fail the filter becomes not-listed. The engine may use this or its own parser.
 */
export function applyCodeFilter<A extends DnsListAnswer>(answer: A, filter: string | undefined): A {
  if (answer.status !== 'listed') return answer;
  const spec = parseCodeFilter(filter ?? '');
  const codes = answer.codes.filter((c) => matchesCode(spec, c));
  if (codes.length > 0) return { ...answer, codes };
  return {
    ...answer,
    status: 'not-listed',
    codes: [],
    detail: `answer ${answer.codes.join(',')} does not match filter ${filter}`,
  };
}

function normZone(zone: string): string {
  return zone.trim().toLowerCase().replace(/\.$/, '');
}

function targetKind(target: DnsTarget): 'ip' | 'domain' {
  return target === 'client' ? 'ip' : 'domain';
}

export function createDnsList(options: DnsListOptions): DnsList {
  const address: ResolverAddress = parseResolver(options.resolver);
  const timeoutMs = options.timeoutMs ?? 1500;
  const budgetMs = options.budgetMs ?? 2500;
  const intervalMs = options.healthIntervalMs ?? 300_000;
  const wantTxt = options.txt ?? true;
  const clock = options.clock ?? { now: () => Date.now() };
  const log = options.logger.child({ module: 'dnslist' });
  const m: DnsListMetrics = createMetrics(options.registry);
  const profiles = profileTable(options.profiles);
  for (const p of profiles.values()) validateProfile(p);

  // @moat/dns's rules: timeoutMs is one question's budget; answers kept within their TTL (a listing that
  // changes is seen when Unbound sees it); health probes ask past the memo (`fresh`)
  const dns = createDns({ servers: [address.server], timeoutMs });

  if (isLocalAddress(address.host)) m.resolverWarning.set(0);
  else {
    m.resolverWarning.set(1);
    log.warn(
      { resolver: address.server },
      'DNS list resolver is not a loopback/private address: big lists (Spamhaus, dnswl...) refuse or poison answers for public resolvers; use the bundled Unbound',
    );
  }

  const zones = new Map<string, Zone>();
  function zoneFor(name: string, opts?: ZoneOptions): Zone {
    let z = zones.get(name);
    if (z) return z;
    const o = opts ?? {};
    if (o.display !== undefined && !validDisplayName(o.display)) {
      throw new ProfileConfigError(`dns zone ${zoneDisplayName(name)}: display must be a zone-like name (letters, digits, - _ .)`);
    }
    const display = zoneDisplayName(name, o.display);
    if (o.kind !== undefined && o.kind !== 'ip' && o.kind !== 'domain' && o.kind !== 'both') {
      throw new ProfileConfigError(`dns zone ${display}: kind must be ip, domain or both`);
    }
    if (o.weight !== undefined && typeof o.weight !== 'number') throw new ProfileConfigError(`dns zone ${display}: weight must be a number`);
    const profile = o.profile ? profiles.get(o.profile) : profileForZone(name, profiles);
    if (!profile) throw new ProfileConfigError(`dns zone ${display} names unknown profile ${o.profile}`);
    z = {
      name,
      display,
      profile,
      options: o,
      only: o.codes !== undefined ? parseCodeFilter(o.codes) : undefined,
      seen: new Set(),
      state: 'unchecked',
      warnings: 0,
    };
    zones.set(name, z);
    m.healthy.set({ zone: display }, 1);
    return z;
  }
  for (const [name, o] of Object.entries(options.zones ?? {})) zoneFor(normZone(name), (o ?? {}) as ZoneOptions);

  /** The display name of a zone as a query names it. */
  function shownName(zone: string): string {
    return zones.get(normZone(zone))?.display ?? zoneDisplayName(zone);
  }
  /** Text that may quote a query name (a resolver error): every keyed zone replaced by its display name. */
  function hide(text: string): string {
    let out = text;
    for (const z of zones.values()) {
      if (z.display === z.name) continue;
      out = out.replace(new RegExp(z.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), z.display);
    }
    return out;
  }

  // In-flight coalescing: identical names asked at once (in one batch or across sessions) share one query.
  const inflight = new Map<string, Promise<Raw>>();
  function resolveA(name: string, ms: number, fresh = false): Promise<Raw> {
    const key = fresh ? `fresh ${name}` : name;
    const have = inflight.get(key);
    if (have) return have;
    const p = raceTimeout(
      (fresh ? dns.fresh : dns).resolve4(name).then(
        (codes): Raw => (codes.length > 0 ? { kind: 'codes', codes } : { kind: 'none' }),
        failureOf,
      ),
      ms,
    )
      .then((r): Raw => (r === TIMEOUT ? { kind: 'fail', reason: 'timeout', detail: `no answer within ${Math.round(ms)} ms` } : r))
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }
  const inflightTxt = new Map<string, Promise<string | undefined>>();
  function resolveTxt(name: string, ms: number): Promise<string | undefined> {
    const have = inflightTxt.get(name);
    if (have) return have;
    const p = raceTimeout(
      dns.resolveTxt(name).then(sanitiseTxt, () => undefined),
      ms,
    )
      .then((r) => (r === TIMEOUT ? undefined : r))
      .finally(() => inflightTxt.delete(name));
    inflightTxt.set(name, p);
    return p;
  }

  function warnZone(z: Zone, c: Classified, key: string): void {
    for (const e of c.errors) {
      m.warnings.inc({ zone: z.display, reason: 'error-code' });
      z.warnings++;
      z.lastWarning = `${e.code}: ${e.meaning}`;
      log.warn({ zone: z.display, code: e.code, meaning: e.meaning, key }, 'DNS list zone-health warning: operator error answer, not a listing');
    }
    for (const e of c.outOfRange) {
      m.warnings.inc({ zone: z.display, reason: 'out-of-range' });
      z.warnings++;
      z.lastWarning = `${e.code}: ${e.meaning}`;
      log.warn({ zone: z.display, code: e.code, key }, 'DNS list zone-health warning: answer outside 127.0.0.0/8, not a listing');
    }
  }

  async function one(q: DnsListRequest, deadline: number): Promise<DnsListResult> {
    const zoneName = normZone(q.zone);
    const base = { zone: q.zone, key: q.key, codes: [] as string[] };
    const z = zoneFor(zoneName);
    // logs and labels name the zone by its display name: a DQS key never leaves in them
    const shown = z.display;
    z.seen.add(targetKind(q.target));
    if (z.state === 'disabled') {
      m.errors.inc({ zone: shown, kind: 'disabled' });
      m.lookups.inc({ zone: shown, result: 'unknown' });
      return { ...base, status: 'unknown', detail: `zone disabled by health check: ${z.reason ?? 'unhealthy'}` };
    }
    const qn = queryName(zoneName, q.target, q.key);
    if (!qn.ok) {
      // A client "address" that is no IP cannot be judged; a HELO literal simply is not a domain.
      const status = q.target === 'client' ? 'unknown' : 'not-listed';
      if (status === 'unknown') m.errors.inc({ zone: shown, kind: 'invalid' });
      m.lookups.inc({ zone: shown, result: status });
      return { ...base, status, detail: qn.detail };
    }
    const started = performance.now();
    const raw = await resolveA(qn.name, Math.min(timeoutMs, deadline - started));
    m.latency.observe({ zone: shown }, (performance.now() - started) / 1000);
    if (raw.kind === 'fail') {
      m.errors.inc({ zone: shown, kind: raw.reason });
      m.lookups.inc({ zone: shown, result: 'unknown' });
      log.warn({ zone: shown, target: q.target, key: q.key, reason: raw.reason, detail: hide(raw.detail) }, 'DNS list lookup failed open');
      return { ...base, status: 'unknown', detail: hide(raw.detail) };
    }
    if (raw.kind === 'none') {
      m.lookups.inc({ zone: shown, result: 'not-listed' });
      return { ...base, status: 'not-listed' };
    }
    const c = classify(z.profile, raw.codes, q.use, z.only);
    warnZone(z, c, q.key);
    const dropped = [...c.errors, ...c.outOfRange, ...c.dropped].map((d) => `${d.code} (${d.meaning})`);
    if (c.listings.length === 0) {
      m.lookups.inc({ zone: shown, result: 'not-listed' });
      return { ...base, status: 'not-listed', detail: `not a listing: ${dropped.join('; ')}` };
    }
    m.lookups.inc({ zone: shown, result: 'listed' });
    m.hits.inc({ zone: shown });
    const remaining = deadline - performance.now();
    const txt = wantTxt && remaining > 1 ? await resolveTxt(qn.name, Math.min(timeoutMs, remaining)) : undefined;
    const meanings = c.listings.map((l) => `${l.code} ${l.meaning}`);
    if (dropped.length > 0) meanings.push(`dropped ${dropped.join('; ')}`);
    return {
      ...base,
      status: 'listed',
      codes: c.listings.map((l) => l.code),
      // a list's TXT is untrusted text for a reply: it must not quote the keyed zone either
      txt: txt === undefined ? undefined : hide(txt),
      detail: meanings.join('; '),
      weight: z.options.weight ?? Math.max(...c.listings.map((l) => l.weight)),
    };
  }

  async function lookup(queries: readonly DnsListRequest[]): Promise<DnsListResult[]> {
    const started = performance.now();
    const deadline = started + budgetMs;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(resolve, budgetMs, TIMEOUT);
    });
    try {
      const answers = await Promise.all(
        queries.map(async (q): Promise<DnsListResult> => {
          const r = await Promise.race([
            one(q, deadline).catch(
              (err: unknown): DnsListResult => ({
                zone: q.zone,
                key: q.key,
                status: 'unknown',
                codes: [],
                detail: `internal error: ${hide(String(err))}`,
              }),
            ),
            budget,
          ]);
          if (r !== TIMEOUT) return r;
          const zone = shownName(q.zone);
          m.errors.inc({ zone, kind: 'budget' });
          m.lookups.inc({ zone, result: 'unknown' });
          return { zone: q.zone, key: q.key, status: 'unknown', codes: [], detail: `batch budget of ${budgetMs} ms exceeded` };
        }),
      );
      const ms = Math.round(performance.now() - started);
      const listed = answers.filter((a) => a.status === 'listed').map((a) => shownName(a.zone));
      const unknown = answers.filter((a) => a.status === 'unknown').map((a) => shownName(a.zone));
      log.info({ queries: queries.length, listed, unknown, ms }, 'dnslist batch');
      return answers;
    } catch (err) {
      // Never throws: the contract is fail open.
      log.error({ err: hide(String(err)) }, 'dnslist batch failed');
      return queries.map((q) => ({ zone: q.zone, key: q.key, status: 'unknown', codes: [], detail: 'internal error' }));
    } finally {
      clearTimeout(timer);
    }
  }

  const probe = { ask: (name: string) => resolveA(name, timeoutMs, true), hide, now: () => clock.now(), metrics: m, log };
  const checkZone = (z: Zone) => probeZone(z, probe);

  let closed = false;
  async function checkHealth(): Promise<ZoneHealth[]> {
    const list = [...zones.values()].filter((z) => z.options.health !== false);
    await Promise.all(
      list.map((z) =>
        checkZone(z).catch((err: unknown) => {
          log.error({ zone: z.display, err: hide(String(err)) }, 'DNS list health check crashed');
        }),
      ),
    );
    return health();
  }

  function health(): ZoneHealth[] {
    return [...zones.values()].map(zoneHealth);
  }

  const ready = options.healthOnStart === false ? Promise.resolve() : checkHealth().then(() => undefined);
  const interval =
    intervalMs > 0
      ? setInterval(() => {
          if (!closed) void checkHealth();
        }, intervalMs)
      : undefined;
  interval?.unref();

  return {
    lookup,
    checkHealth,
    health,
    ready,
    close() {
      closed = true;
      if (interval) clearInterval(interval);
    },
  };
}
