// Reload without restart: re-read the config file, validate and compile it, build a new generation of what a
// service runs on, and hand it to new sessions; an old generation is retired once its last session ends.
// Trusts nothing it reads (@moat/config validates); a refused config leaves the running generation in force.
import { type CompiledConfig, type CompileOptions, type Config, ConfigError, compileConfig, formatConfigErrors, loadConfig } from '@moat/config';
import { Counter, Gauge, type Logger, metricOnce, type Registry } from '@moat/observe';

export type ReloadOutcome = 'applied' | 'refused';

/** What one reload did, as `moat reload`, the log line and GET /-/reload show it. */
export interface ReloadReport {
  service: string;
  outcome: ReloadOutcome;
  /** The generation in force after the reload (unchanged when refused). */
  generation: number;
  trigger: string;
  at: string;
  ms: number;
  /** Why the new config was refused (validation errors, an unreadable certificate...). */
  error?: string | undefined;
  /** Changed settings that only a restart applies (listen addresses, the queue directory...): still the old values. */
  needsRestart: string[];
  /** Sessions still open on older generations when the new one took over. */
  draining: number;
}

export interface Lease<T> {
  readonly value: T;
  readonly generation: number;
  /** The session ended: an old generation with no sessions left is retired. Idempotent. */
  release(): void;
}

export interface Reloader<T> {
  /** The generation new sessions get. */
  current(): T;
  config(): Config;
  generation(): number;
  /** The current generation for one session, kept alive until `release()`. */
  acquire(): Lease<T>;
  /** Re-read, validate, build, swap. Concurrent calls share one reload. */
  reload(trigger: string): Promise<ReloadReport>;
  last(): ReloadReport | undefined;
  /** Retire every generation (at shutdown). */
  close(): Promise<void>;
}

export interface ReloaderOptions<T> {
  service: string;
  /** The config file (re-read at each reload; MOAT_* environment overrides apply as at start). */
  file: string;
  config: Config;
  value: T;
  /** A new generation from a validated config. A throw refuses the reload. */
  build(config: Config, compiled: CompiledConfig): Promise<T>;
  /** Release what a generation holds (Redis connections, file watches). */
  retire(value: T): Promise<void> | void;
  /** Dotted config paths read once at start: a change is reported as needing a restart. */
  restartOnly: readonly string[];
  /** How the service compiles its config at start, the same at each reload (policyd: no DKIM keys). */
  compile?: CompileOptions | undefined;
  logger: Logger;
  registry: Registry;
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

interface Gen<T> {
  id: number;
  config: Config;
  value: T;
  sessions: number;
  retired: boolean;
}

function metricsOn(registry: Registry) {
  const get = <M>(name: string, make: () => M): M => metricOnce(registry, name, make);
  const registers = [registry];
  return {
    reloads: get(
      'moat_reload_total',
      () => new Counter({ name: 'moat_reload_total', help: 'Config reloads (SIGHUP, POST /-/reload) by outcome', labelNames: ['outcome'] as const, registers }),
    ),
    ok: get(
      'moat_config_last_reload_successful',
      () => new Gauge({
          name: 'moat_config_last_reload_successful',
          help: '1 when the last reload was applied (or none was tried), 0 when refused',
          registers,
          aggregator: 'min', // policyd's workers summed by the primary: 0 when any one refused
        }),
    ),
    generation: get(
      'moat_config_generation',
      () => new Gauge({ name: 'moat_config_generation', help: 'Config generation new sessions get (1 at start)', registers, aggregator: 'min' }),
    ),
    pending: get(
      'moat_config_needs_restart',
      () => new Gauge({ name: 'moat_config_needs_restart', help: 'Changed settings that wait for a restart', registers, aggregator: 'max' }),
    ),
  };
}

/** The value at a dotted path, as JSON (for comparing one setting across two configs). */
function at(config: Config, path: string): string {
  let v: unknown = config;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return JSON.stringify(v) ?? 'undefined';
}

/** Restart-only settings that differ between the config at start and `next`. */
export function restartOnlyChanges(started: Config, next: Config, paths: readonly string[]): string[] {
  return paths.filter((p) => at(started, p) !== at(next, p));
}

export function createReloader<T>(o: ReloaderOptions<T>): Reloader<T> {
  const m = metricsOn(o.registry);
  m.ok.set(1);
  m.generation.set(1);
  // restart-only settings compare with what the process started with, not the last reload
  const started = o.config;
  let current: Gen<T> = { id: 1, config: o.config, value: o.value, sessions: 0, retired: false };
  const old = new Set<Gen<T>>();
  let inFlight: Promise<ReloadReport> | undefined;
  let last: ReloadReport | undefined;
  let closed = false;

  async function retire(g: Gen<T>, shutdown = false): Promise<void> {
    if (g.retired) return;
    g.retired = true;
    old.delete(g);
    try {
      await o.retire(g.value);
      // at shutdown the service's own "stopping" line says it all
      if (!shutdown) o.logger.info({ event: 'reload-retired', generation: g.id }, 'old config generation released');
    } catch (e) {
      o.logger.warn({ event: 'reload-retire-failed', generation: g.id, err: e }, 'releasing an old config generation failed');
    }
  }

  async function run(trigger: string): Promise<ReloadReport> {
    const t0 = performance.now();
    const base = { service: o.service, trigger, at: new Date().toISOString() };
    let next: Config;
    let value: T;
    try {
      next = loadConfig(o.file, o.env ? { env: o.env } : {});
      const compiled = compileConfig(next, o.compile);
      value = await o.build(next, compiled);
    } catch (e) {
      const error = e instanceof ConfigError ? formatConfigErrors(e) : e instanceof Error ? e.message : String(e);
      const report: ReloadReport = {
        ...base,
        outcome: 'refused',
        generation: current.id,
        ms: Math.round(performance.now() - t0),
        error,
        needsRestart: last?.needsRestart ?? [],
        draining: old.size,
      };
      m.reloads.inc({ outcome: 'refused' });
      m.ok.set(0);
      o.logger.error({ event: 'reload', outcome: 'refused', trigger, generation: current.id, error }, 'config reload refused: the running config stays in force');
      return report;
    }
    if (closed) {
      // the service shut down while this generation was being built: release it, swap nothing
      await retire({ id: current.id + 1, config: next, value, sessions: 0, retired: false }, true);
      return { ...base, outcome: 'refused', generation: current.id, ms: Math.round(performance.now() - t0), error: 'shutting down', needsRestart: [], draining: old.size };
    }
    const previous = current;
    current = { id: previous.id + 1, config: next, value, sessions: 0, retired: false };
    old.add(previous);
    // sessions still on the previous generation finish there; without any it goes now
    if (previous.sessions === 0) void retire(previous);
    const needsRestart = restartOnlyChanges(started, next, o.restartOnly);
    const draining = [...old].reduce((n, g) => n + g.sessions, 0);
    m.reloads.inc({ outcome: 'applied' });
    m.ok.set(1);
    m.generation.set(current.id);
    m.pending.set(needsRestart.length);
    const report: ReloadReport = { ...base, outcome: 'applied', generation: current.id, ms: Math.round(performance.now() - t0), needsRestart, draining };
    o.logger.info({ event: 'reload', outcome: 'applied', trigger, generation: current.id, needsRestart, draining }, needsRestart.length
      ? `config reloaded for new sessions; needs restart: ${needsRestart.join(', ')}`
      : 'config reloaded for new sessions');
    return report;
  }

  return {
    current: () => current.value,
    config: () => current.config,
    generation: () => current.id,
    acquire() {
      const g = current;
      g.sessions++;
      let done = false;
      return {
        value: g.value,
        generation: g.id,
        release() {
          if (done) return;
          done = true;
          g.sessions--;
          if (g.sessions === 0 && g !== current) void retire(g);
        },
      };
    },
    reload(trigger) {
      inFlight ??= run(trigger).finally(() => {
        inFlight = undefined;
      });
      return inFlight.then((r) => {
        last = r;
        return r;
      });
    },
    last: () => last,
    async close() {
      closed = true;
      // a reload under way finishes first (and releases what it built): nothing it opens outlives close()
      await inFlight?.catch(() => undefined);
      for (const g of [...old, current]) await retire(g, true);
    },
  };
}
