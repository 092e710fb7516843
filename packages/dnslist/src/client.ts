// The DNS list client (DnsListPort): concurrent lookups under one budget, provider profiles, zone health.
// Talks only to the one resolver it is configured with (never Node's default); trusts no answer blindly.
import { performance } from 'node:perf_hooks';
import { createDns, isLocalAddress, parseResolver, type ResolverAddress } from '@moat/dns';
import type { Logger, Registry } from '@moat/observe';
import {
  type ClockPort,
  type DnsListAnswer,
  type DnsListPort,
  type DnsListQuery,
  matchesCode,
  parseCodeFilter,
} from '@moat/policy';
import { validateProfile } from './classify.ts';
import { createMetrics, type DnsListMetrics } from './metrics.ts';
import { type ProfileInput, profileTable } from './profiles.ts';
import { probeZone } from './health.ts';
import { createListQueries, TIMEOUT } from './list-queries.ts';
import { type Zone, type ZoneHealth, zoneHealth, type ZoneOptions } from './zone.ts';
import { createZoneLookup } from './zone-lookup.ts';
import { createZoneTable, normZone } from './zone-table.ts';

export type { ZoneHealth, ZoneOptions, ZoneState } from './zone.ts';
export { sanitiseTxt } from './list-queries.ts';

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

  const table = createZoneTable(profiles, m);
  const { zones, zoneFor, shownName, hide } = table;
  for (const [name, o] of Object.entries(options.zones ?? {})) zoneFor(normZone(name), (o ?? {}) as ZoneOptions);
  const queries = createListQueries(dns);
  const { resolveA } = queries;
  const one = createZoneLookup({ table, queries, m, log, timeoutMs, wantTxt });

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
