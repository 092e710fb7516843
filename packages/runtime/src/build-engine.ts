// Builds the engine and its adapters (DNS lists, greylist, recipients, access maps) from parsed config.
// Trusts the config (already validated by @moat/config); owns the adapters' lifetimes (close()).
import type { Logger, Registry } from '@moat/observe';
import * as policy from '@moat/policy';
import type { Facts, Ports, PolicySpec, Verdict } from '@moat/policy';

export interface Engine {
  evaluate(facts: Facts): Promise<Verdict>;
}

export interface BuiltEngine {
  engine: Engine;
  /** The ports handed to the engine (for `moat explain` style tooling and tests). */
  ports: Ports;
  /** Closes every adapter (Redis connections, DNS sockets, health timers). */
  close(): Promise<void>;
  /** True when the engine can decide; adapters that fail open do not make it unhealthy. */
  health(): Promise<boolean>;
}

/**
 * The slice of the parsed config the wiring reads. Kept structural so the apps can pass the
 * @moat/config object as is; `policy` is the compiled PolicySpec.
 */
export interface RuntimeConfig {
  policy: PolicySpec;
  [section: string]: unknown;
}

export interface BuildOptions {
  registry: Registry;
  logger: Logger;
  /** Replace individual adapters (tests, or an app with its own). */
  ports?: Partial<Ports> | undefined;
}

type Factory = (...args: never[]) => unknown;
const need = (mod: Record<string, unknown>, name: string, from: string): Factory => {
  const f = mod[name];
  if (typeof f !== 'function') throw new Error(`${from} does not export ${name}() yet`);
  return f as Factory;
};

export async function buildEngine(config: RuntimeConfig, opts: BuildOptions): Promise<BuiltEngine> {
  const closers: Array<() => Promise<void> | void> = [];
  const given = opts.ports ?? {};
  const clock = given.clock ?? { now: () => Date.now() };
  const missing = (['dnslist', 'greylist', 'recipients', 'accessMaps'] as const).filter((k) => !given[k]);
  if (missing.length > 0) throw new Error(`buildEngine: adapters not wired yet: ${missing.join(', ')}`);
  const ports = { ...given, clock } as Ports;
  const createEngine = need(policy as unknown as Record<string, unknown>, 'createEngine', '@moat/policy') as unknown as (
    spec: PolicySpec,
    ports: Ports,
  ) => Engine;
  const engine = createEngine(config.policy, ports);
  return {
    engine,
    ports,
    async close() {
      for (const c of closers.reverse()) await c();
    },
    async health() {
      return true;
    },
  };
}
