// Builds the engine and its adapters (DNS lists, greylist, recipients, access maps) from the parsed config.
// Trusts the config (validated by @moat/config); owns the adapters' lifetimes (close()).
import type { AddressResolver } from '@moat/address';
import { type CompiledConfig, type Config, compileConfig, views } from '@moat/config';
import { createDnsList, type DnsList, type ProfileInput, type ZoneOptions } from '@moat/dnslist';
import { createGreylist, type Greylist } from '@moat/greylist';
import type { ReloadResult } from '@moat/maps';
import type { Logger, Registry } from '@moat/observe';
import { createEngine, type Engine, type PolicySpec, type Ports, type Restriction } from '@moat/policy';
import { type AddressExplanation, explainAddress } from './explain-address.ts';
import { hideZones } from './hide-zones.ts';

export type { Engine };

export interface BuiltEngine {
  engine: Engine;
  /** The spec the engine runs (after `adjustSpec`). */
  spec: PolicySpec;
  /** The ports handed to the engine (for `moat explain` style tooling and tests). */
  ports: Ports;
  /** The DNS-list client, when this wiring built it (zone health for /healthz and the CLI). */
  dnslist?: DnsList | undefined;
  /** The greylist, when this wiring built it (its admin API for the CLI). */
  greylist?: Greylist | undefined;
  /** The address resolver compileConfig built: the one mx routes and delivers with. */
  addressResolver: AddressResolver;
  /** How a recipient resolves (class, rewrites, next hop or refusal), for `moat explain` and the console's "Why?". */
  explainAddress(address: string): AddressExplanation;
  /** Closes every adapter this wiring built (Redis connections, health timers, lookup-table watchers). */
  close(): Promise<void>;
  /**
   * Re-reads every lookup table file now (what SIGHUP does; changed files are also picked up by a
   * file watch). A broken file keeps its last good table, logged and counted.
   */
  reloadMaps(): ReloadResult[];
  /**
   * True while the engine can decide. The adapters fail open (Redis down = greylist passes, a dead
   * zone = not listed), so their outages are metrics and log lines, not an unhealthy engine.
   */
  health(): Promise<boolean>;
}

export interface BuildOptions {
  registry: Registry;
  logger: Logger;
  /** Replace individual adapters (tests, or an app with its own). */
  ports?: Partial<Ports> | undefined;
  /** Adjust the compiled spec before the engine is built (policyd drops what Postfix does itself). */
  adjustSpec?: ((spec: PolicySpec) => PolicySpec) | undefined;
  /** Already compiled config (saves reading the map files twice). */
  compiled?: CompiledConfig | undefined;
  /** Watch lookup-table files and reload them on change and on SIGHUP (default true). */
  watchMaps?: boolean | undefined;
  /** Re-read the tables on SIGHUP (default true; false where SIGHUP reloads the whole config, createReloader). */
  sighup?: boolean | undefined;
}

/** Zones the spec queries, so the DNS-list client health-checks them from the start. */
export function zonesOf(spec: PolicySpec): string[] {
  const zones = new Set<string>();
  for (const r of [...spec.relayRestrictions, ...spec.recipientRestrictions] as Restriction[]) {
    if ('zone' in r) zones.add(r.zone);
  }
  // the weighted sites (postscreen_dnsbl_sites) only where a list sums them
  const scored = [...spec.relayRestrictions, ...spec.recipientRestrictions].some((r) => r.type === 'reject_dnsbl_score' || r.type === 'permit_dnsbl_score');
  if (scored) for (const s of spec.dnsblSites ?? []) zones.add(s.zone);
  return [...zones];
}

const usesGreylist = (spec: PolicySpec) =>
  [...spec.relayRestrictions, ...spec.recipientRestrictions].some((r) => r.type === 'check_policy_service');

export async function buildEngine(config: Config, opts: BuildOptions): Promise<BuiltEngine> {
  const { registry, logger } = opts;
  const given = opts.ports ?? {};
  const compiled = opts.compiled ?? compileConfig(config);
  const spec = opts.adjustSpec ? opts.adjustSpec(compiled.spec) : compiled.spec;
  const closers: Array<() => Promise<void> | void> = [];

  // Lookup tables named by the config (hash:, cidr:, regexp:...): watched, reloaded on SIGHUP, closed with us.
  // The SIGHUP handler is there even without file tables: Postfix's reload signal must never kill us.
  const tables = compiled.tables;
  if (opts.watchMaps !== false) {
    tables.watch({ logger: logger.child({ component: 'maps' }), registry });
    const onHup = () => {
      const results = tables.reload();
      logger.info({ event: 'sighup', tables: results.length, errors: results.filter((r) => r.result === 'error').length }, 'SIGHUP: lookup tables re-read');
    };
    if (opts.sighup !== false) process.on('SIGHUP', onHup);
    closers.push(() => {
      process.off('SIGHUP', onHup);
      tables.close();
    });
  }

  let dnslist: DnsList | undefined;
  if (!given.dnslist) {
    const zones: Record<string, ZoneOptions> = {};
    for (const z of zonesOf(spec)) zones[z] = {};
    for (const [z, o] of Object.entries(config.dns.zones)) zones[z] = { ...zones[z], ...(o as ZoneOptions) };
    dnslist = createDnsList({
      resolver: config.dns.resolver,
      timeoutMs: config.dns.timeout,
      budgetMs: config.dns.budget,
      zones,
      // the operator's own provider profiles (dnslist validates them and refuses to start on a bad one)
      profiles: config.dns.profiles as ProfileInput,
      registry,
      logger: logger.child({ component: 'dnslist' }),
      clock: given.clock,
    });
    const d = dnslist;
    closers.push(() => d.close());
  }

  let greylist: Greylist | undefined;
  if (!given.greylist && usesGreylist(spec)) {
    const g = config.greylist;
    greylist = createGreylist({
      redis: views.redis(config),
      keyPrefix: g.redis.prefix,
      delayMs: g.delay,
      retryWindowMs: g.retry_window,
      confirmedTtlMs: g.confirmed_ttl,
      autoWhitelistClients: g.auto_whitelist_count,
      v4Prefix: g.network_prefix.v4,
      v6Prefix: g.network_prefix.v6,
      timeoutMs: g.timeout,
      whitelist: { clients: g.whitelist.clients, clientNames: g.whitelist.client_names, recipients: g.whitelist.recipients },
      resolver: config.dns.resolver,
      hostname: config.policy.hostname,
      registry,
      logger: logger.child({ component: 'greylist' }),
    });
    const gl = greylist;
    closers.push(() => gl.close());
  }

  const ports: Ports = {
    dnslist: given.dnslist ?? dnslist!,
    // A spec without check_policy_service never asks; answer pass rather than hold a Redis connection.
    greylist: given.greylist ?? greylist ?? { check: async () => ({ action: 'pass', reason: 'known' }) },
    recipients: given.recipients ?? compiled.recipients,
    accessMaps: given.accessMaps ?? compiled.accessMaps,
    clock: given.clock ?? { now: () => Date.now() },
  };
  // verdicts leave with keyed zones (DQS) under their display names: replies, logs, labels, the journal
  const engine = hideZones(createEngine(spec, ports));
  let closed = false;
  return {
    engine,
    spec,
    ports,
    dnslist,
    greylist,
    addressResolver: compiled.addressResolver,
    explainAddress: (address) => explainAddress(compiled.addressResolver, address),
    async close() {
      if (closed) return;
      closed = true;
      for (const c of closers.reverse()) await c();
    },
    async health() {
      return !closed;
    },
    reloadMaps: () => tables.reload(),
  };
}
