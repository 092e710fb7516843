#!/usr/bin/env -S node --max-semi-space-size=8
// moat-policyd: moat's engine behind Postfix's check_policy_service (SMTPD access policy delegation).
// Talks to Postfix smtpd (policy port), the configured resolver (DNS lists), Redis (greylist), Prometheus (/metrics).
// With policyd.workers > 1 this process is the cluster primary (workers.ts) and each worker runs serve().
// The shebang caps V8's young generation at 8 MB semi-spaces: with the default (much larger) one each
// scavenge copies more and pauses 5-13 ms, which became policyd's p99 at 32 connections (10-11 ms -> 6-7 ms
// measured, same throughput). Workers inherit the flag (cluster forks with the primary's execArgv).
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { type CompiledConfig, type Config, ConfigError, compileConfig, formatConfigErrors, loadConfig, parseHostPort, policydClients, views } from '@moat/config';
import { createJournal, journalOptionsFromConfig } from '@moat/journal';
import { type BufferedOut, bufferedStdout, createLogger, defaultRegistry, type Logger, PIPE_BUF, serveMetrics } from '@moat/observe';
import { type Facts, replyCode, type Verdict } from '@moat/policy';
import { type BuiltEngine, buildEngine, createReloader, type DecisionSink } from '@moat/runtime';
/** A policy port is never public by accident: a bare port listens on loopback. */
const splitHostPort = (s: string): { host: string; port: number } => parseHostPort(s, { defaultHost: '127.0.0.1' });
import { policydSpec } from './profile.ts';
import { createPolicyServer } from './server.ts';
import { answerClusterMetrics, RELOAD_MESSAGE, resolveWorkers, runPrimary, WORKERS_ENV, workerMetrics } from './workers.ts';

/** What a reload replaces: the engine with its adapters, and the journal it writes to. */
interface PolicydGeneration {
  built: BuiltEngine;
  journal: ReturnType<typeof createJournal> | undefined;
}

/**
 * Read once at start (the policy port, who may use it, its limits and reply style, the processes, the metrics
 * port): a change needs a restart. policyd.skip and policyd.journal reload (they belong to the generation).
 */
const POLICYD_RESTART_ONLY = [
  ...['listen', 'clients', 'idle_timeout', 'max_connections', 'workers', 'stages', 'permit_action', 'reject_style'].map((k) => `policyd.${k}`),
  ...['request_timeout', 'decision_timeout', 'error_action', 'overload_action', 'max_line', 'max_request'].map((k) => `policyd.${k}`),
  'metrics',
];

const usage = `usage: moat-policyd --config FILE [--listen HOST:PORT] [--metrics HOST:PORT|off] [--workers N|auto]
  --config   moat.yaml (MOAT_* environment variables override it)
  --listen   policy port for Postfix (default: policyd.listen, 127.0.0.1:10023)
  --metrics  Prometheus /metrics and /healthz (default: metrics.listen when metrics.enabled; "off" disables)
  --workers  processes sharing the policy port, "auto" = one per core (default: policyd.workers, 1)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      metrics: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.config) {
    console.error(usage);
    process.exit(values.help ? 0 : 64);
  }
  const flagWorkers = values.workers === undefined ? undefined : resolveWorkers(values.workers);
  if (values.workers !== undefined && flagWorkers === undefined) {
    console.error(`policyd: --workers: expected a number of processes (1 to 256) or auto, got ${JSON.stringify(values.workers)}\n${usage}`);
    process.exit(64);
  }
  let config: Config;
  let compiled: CompiledConfig;
  try {
    config = loadConfig(values.config);
    compiled = compileConfig(config, { dkimKeys: false }); // reads the cidr maps and users file the config names; never the DKIM keys (policyd signs nothing)
  } catch (e) {
    console.error(e instanceof ConfigError ? formatConfigErrors(e) : String(e));
    process.exit(78); // EX_CONFIG
  }
  const listenAt = values.listen ?? config.policyd.listen;
  const metricsAt = values.metrics ?? (config.metrics.enabled ? config.metrics.listen : 'off');
  // The primary resolves the count (and `auto`) once; a worker takes it from its environment.
  const count = cluster.isWorker
    ? Number(process.env[WORKERS_ENV]) || 1
    : (flagWorkers ?? resolveWorkers(config.policyd.workers) ?? 1);
  // Several processes share one stdout: writes of at most PIPE_BUF bytes, cut at line ends, never interleave.
  const logOut = bufferedStdout({ ...(count > 1 ? { pieceBytes: PIPE_BUF } : {}), registry: defaultRegistry });
  const root = createLogger('policyd', { destination: logOut });
  if (cluster.isPrimary && count > 1) {
    splitHostPort(listenAt); // a bad address fails here, not in a restart loop of workers
    // The primary does no policy work: it forks, restarts and stops the workers, and sums their metrics.
    await runPrimary({
      workers: count,
      logger: root,
      metrics: metricsAt === 'off' ? undefined : splitHostPort(metricsAt),
      flushLogs: () => logOut.flush(1000),
    });
    return;
  }
  await serve({ config, compiled, listenAt, metricsAt, workers: count, logOut, root });
}

/** Today's whole policyd: the engine, its adapters, the policy port. One per worker when clustered. */
async function serve(o: {
  config: Config;
  compiled: CompiledConfig;
  listenAt: string;
  metricsAt: string;
  workers: number;
  logOut: BufferedOut;
  root: Logger;
}): Promise<void> {
  const { config, compiled, logOut } = o;
  const worker = cluster.worker;
  // policyd's lines carry no pid (the base is { component }): `worker` tells the processes apart.
  const logger = worker ? o.root.child({ worker: worker.id }) : o.root;
  // max_connections is the whole service's: each worker takes its share.
  const clients = policydClients(config);
  const settings = views.policyd(config, { workers: worker ? o.workers : 1 });
  if (clients.length === 0) logger.warn({ event: 'config' }, 'policyd.clients (or mynetworks) is empty: every policy connection will be refused');
  // Everything a reload may change is one generation: the engine (lists, maps, greylist) and the journal.
  // A request runs on the generation current when it arrived; SIGHUP and POST /-/reload make a new one.
  const build = async (c: Config, cc: CompiledConfig): Promise<PolicydGeneration> => {
    const built = await buildEngine(c, {
      registry: defaultRegistry,
      logger,
      compiled: cc,
      sighup: false,
      adjustSpec: (spec) => policydSpec(spec, c.policyd.skip),
    });
    try {
      const journal = c.policyd.journal
        ? createJournal({ ...journalOptionsFromConfig(c), registry: defaultRegistry, logger: logger.child({ component: 'journal' }) })
        : undefined;
      return { built, journal };
    } catch (e) {
      // a generation that fails to build leaves nothing open: the engine's Redis and resolvers close here
      await built.close();
      throw e;
    }
  };
  const generations = createReloader<PolicydGeneration>({
    service: worker ? `policyd/${worker.id}` : 'policyd',
    file: config.source.file,
    config,
    value: await build(config, compiled),
    build,
    async retire(g) {
      await g.built.close();
      await g.journal?.close();
    },
    restartOnly: POLICYD_RESTART_ONLY,
    compile: { dkimKeys: false }, // as at start: policyd signs nothing, its container has no keys
    logger,
    registry: defaultRegistry,
  });
  process.on('SIGHUP', () => void generations.reload('sighup'));
  // a worker reloads when the primary asks (its POST /-/reload) and answers with its report
  if (worker) {
    process.on('message', (m: unknown) => {
      if (m && typeof m === 'object' && (m as { type?: string }).type === RELOAD_MESSAGE) {
        void generations.reload('http').then((report) => process.send?.({ type: RELOAD_MESSAGE, seq: (m as { seq: number }).seq, report }));
      }
    });
  }
  const engine = {
    // not an async function: one promise per request fewer (this is the per-request path)
    evaluate(facts: Facts): Promise<Verdict> {
      const lease = generations.acquire();
      let verdict: Promise<Verdict>;
      try {
        verdict = lease.value.built.engine.evaluate(facts);
      } catch (e) {
        lease.release();
        return Promise.reject(e);
      }
      // release never throws: a throw here would reject the .then's promise, which nobody handles
      const release = () => {
        try {
          lease.release();
        } catch (err) {
          logger.error({ err: String(err) }, 'config generation lease not released');
        }
      };
      verdict.then(release, release);
      return verdict;
    },
  };
  const sink = { record: (...a: Parameters<DecisionSink['record']>) => generations.current().journal?.record(...a) };
  const server = createPolicyServer({ engine, settings, logger, registry: defaultRegistry, replyCode, sink });
  const listen = splitHostPort(o.listenAt);
  // A worker answers the primary's /metrics over IPC; the primary serves them summed.
  if (worker) answerClusterMetrics(defaultRegistry);
  const bound = await server.listen(listen.host, listen.port);
  // one process: it is the one worker listening (with workers, the primary exports these)
  if (!worker) workerMetrics(defaultRegistry).up.set(1);

  const metricsAt = worker ? 'off' : o.metricsAt;
  const metrics =
    metricsAt === 'off' ? undefined : await serveMetrics(defaultRegistry, {
          ...splitHostPort(metricsAt),
          health: () => generations.current().built.health(),
          reload: { run: (trigger) => generations.reload(trigger), last: () => generations.last() },
        });
  logger.info(
    {
      listen: `${bound.host}:${bound.port}`,
      metrics: worker ? 'primary' : metricsAt,
      maxConnections: settings.maxConnections,
      stages: settings.stages,
      skip: config.policyd.skip,
      clients,
    },
    'policyd listening',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'policyd stopping');
    await server.close(5000);
    metrics?.close();
    await generations.close();
    await logOut.flush(1000); // bounded: a stalled stdout reader cannot hold the exit
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  console.error(`policyd: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
