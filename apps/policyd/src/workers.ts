// policyd over several processes (node:cluster): the primary forks, restarts and stops the workers and serves
// their summed /metrics; each worker is a whole policyd. Talks to its workers (IPC) and Prometheus only.
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { Counter, Gauge, type Logger, type Registry, serveMetrics } from '@moat/observe';
import client from 'prom-client';

const { AggregatorRegistry } = client;

/** Set by the primary in each worker's environment: how many workers share the port (max_connections is divided). */
export const WORKERS_ENV = 'MOAT_POLICYD_WORKER_COUNT';

/** The IPC message of a reload: the primary's POST /-/reload asks each worker, each answers with its report. */
export const RELOAD_MESSAGE = 'moat-reload';

/** `--workers N|auto` or `policyd.workers` as a process count; undefined for a flag value that is neither. */
export function resolveWorkers(value: number | string): number | undefined {
  if (value === 'auto') return availableParallelism();
  const n = typeof value === 'number' ? value : /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : undefined;
}

/**
 * In a worker: answer the primary's metric requests from `registry` (prom-client's cluster protocol;
 * without this a worker answers from prom-client's global registry, which moat does not use).
 */
export function answerClusterMetrics(registry: Registry): void {
  AggregatorRegistry.setRegistries(registry);
  new AggregatorRegistry(); // installs the worker's IPC listener
}

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** Prometheus /metrics and /healthz, or undefined for none. */
  metrics?: { host: string; port: number } | undefined;
  /** Written out before the primary exits. */
  flushLogs(): Promise<void>;
  /** More than `workers` restarts within this window: give up (exit 1) and let the supervisor restart us. */
  restartWindowMs?: number;
  /** How long workers get to finish their graceful close after SIGTERM before they are killed. */
  stopTimeoutMs?: number;
}

/**
 * The process-count metrics: the primary's (summed workers never export them), or a single-process policyd's
 * (one listener, no restarts), so the dashboard's policyd panels show the same series either way.
 */
export function workerMetrics(registry: Registry | InstanceType<typeof AggregatorRegistry>): { up: InstanceType<typeof Gauge>; restarts: InstanceType<typeof Counter> } {
  return {
    up: new Gauge({ name: 'moat_policyd_workers', help: 'policyd worker processes listening', registers: [registry] }),
    restarts: new Counter({ name: 'moat_policyd_worker_restarts_total', help: 'policyd workers restarted after dying unexpectedly', registers: [registry] }),
  };
}

/** Forks the workers and supervises them until SIGTERM/SIGINT (exit 0) or a crash loop (exit 1). */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  const { workers: count, logger } = o;
  const windowMs = o.restartWindowMs ?? 10_000;
  // Round-robin (the Linux default, made explicit against NODE_CLUSTER_SCHED_POLICY): the primary accepts
  // and hands connections out in turn, so Postfix's long-lived connections spread evenly.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const registry = new AggregatorRegistry();
  const { up: upGauge, restarts: restartCounter } = workerMetrics(registry);
  const alive = new Set<Worker>();
  const listening = new Set<number>();
  const restarts: number[] = [];
  let stopping = false;
  let exitCode = 0;
  let allExited: (() => void) | undefined;

  const fork = () => {
    if (stopping) return;
    const w = cluster.fork({ [WORKERS_ENV]: String(count) });
    alive.add(w);
    logger.info({ worker: w.id, pid: w.process.pid }, 'policyd worker started');
  };

  cluster.on('listening', (w, address) => {
    listening.add(w.id);
    upGauge.set(listening.size);
    logger.info({ worker: w.id, pid: w.process.pid, listen: `${address.address}:${address.port}` }, 'policyd worker listening');
  });
  cluster.on('exit', (w, code, signal) => {
    alive.delete(w);
    listening.delete(w.id);
    upGauge.set(listening.size);
    if (stopping) {
      logger.info({ worker: w.id, pid: w.process.pid, code, signal }, 'policyd worker stopped');
      if (alive.size === 0) allExited?.();
      return;
    }
    logger.error({ worker: w.id, pid: w.process.pid, code, signal }, 'policyd worker died');
    const now = Date.now();
    while (restarts.length > 0 && now - restarts[0]! > windowMs) restarts.shift();
    if (restarts.length >= count) {
      logger.fatal(
        { restarts: restarts.length, windowSeconds: windowMs / 1000, workers: count },
        `policyd workers keep dying (${restarts.length} restarts within ${windowMs / 1000} s): giving up, exit 1`,
      );
      void stop(1, { reason: 'crash loop' });
      return;
    }
    restarts.push(now);
    restartCounter.inc();
    // Back off a little more with each recent restart; at most `count` of them per window.
    setTimeout(fork, 100 * restarts.length);
  });

  let server: Server | undefined;
  const stop = async (code: number, why: { signal?: string; reason?: string }) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info({ ...why, workers: alive.size }, 'policyd stopping');
    const exited = new Promise<void>((resolve) => {
      allExited = resolve;
      if (alive.size === 0) resolve();
    });
    // Each worker runs its own graceful close (server.close(5000), Redis, journal, log flush) on SIGTERM.
    for (const w of alive) w.process.kill('SIGTERM');
    const timeoutMs = o.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      logger.error({ workers: alive.size, timeoutMs }, 'policyd workers did not stop in time: killed');
      for (const w of alive) w.process.kill('SIGKILL');
      exitCode = 1;
    }
    server?.close();
    await o.flushLogs();
    process.exit(exitCode);
  };
  process.on('SIGTERM', () => void stop(0, { signal: 'SIGTERM' }));
  process.on('SIGINT', () => void stop(0, { signal: 'SIGINT' }));
  // SIGHUP re-reads the lookup tables (@moat/runtime): the workers hold them, so pass it on (and do not
  // die of it, Node's default)
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP', workers: alive.size }, 'policyd: SIGHUP passed to the workers (config reloaded)');
    for (const w of alive) w.process.kill('SIGHUP');
  });

  // POST /-/reload: every worker reloads and answers; the primary itself holds no config to reload
  let seq = 0;
  let lastReload: unknown;
  const reloadWorkers = async (): Promise<Array<{ outcome: string }>> => {
    const n = ++seq;
    const reports = await Promise.all(
      [...alive].map(
        (w) =>
          new Promise<{ outcome: string }>((resolve) => {
            const timer = setTimeout(() => {
              w.off('message', on);
              resolve({ outcome: 'refused', service: `policyd/${w.id}`, error: 'worker did not answer within 30 s' } as { outcome: string });
            }, 30_000);
            const on = (m: unknown) => {
              if (!m || typeof m !== 'object' || (m as { type?: string }).type !== RELOAD_MESSAGE || (m as { seq?: number }).seq !== n) return;
              clearTimeout(timer);
              w.off('message', on);
              resolve((m as { report: { outcome: string } }).report);
            };
            w.on('message', on);
            w.send({ type: RELOAD_MESSAGE, seq: n });
          }),
      ),
    );
    lastReload = reports;
    return reports;
  };
  if (o.metrics) {
    server = await serveClusterMetrics(registry, o.metrics, () => ({ listening: listening.size, workers: count }), {
      run: reloadWorkers,
      last: () => lastReload,
    });
  }
  for (let i = 0; i < count; i++) fork();
  logger.info({ workers: count, metrics: o.metrics ? `${o.metrics.host}:${o.metrics.port}` : 'off' }, 'policyd primary started');
}

/**
 * /metrics: every worker's metrics summed (prom-client's AggregatorRegistry), then the primary's own.
 * /healthz: 200 while every worker is listening. A worker that does not answer within prom-client's 5 s
 * gives a 503 for that scrape rather than partial sums.
 */
function serveClusterMetrics(
  registry: InstanceType<typeof AggregatorRegistry>,
  at: { host: string; port: number },
  state: () => { listening: number; workers: number },
  reload?: { run(): Promise<Array<{ outcome: string }>>; last(): unknown },
): Promise<Server> {
  return serveMetrics(registry, {
    ...at,
    reload,
    metrics: async () => {
      const summed = await registry.clusterMetrics();
      const own = await registry.metrics();
      return summed === '' ? own : `${summed}\n${own}`;
    },
    health: () => {
      const s = state();
      return s.listening >= s.workers || `${s.listening} of ${s.workers} workers listening`;
    },
  });
}
