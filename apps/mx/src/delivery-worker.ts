// The queue runner in its own thread (its own event loop and core): SMTP sessions never wait behind
// deliveries. Talks to the spool directory and the next hops; the main thread only kicks it.
import { createWriteStream } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPort, Worker } from 'node:worker_threads';
import { createLogger, createRegistry } from '@moat/observe';
import {
  createRouter,
  createTransport,
  type Draft,
  dnsMxResolver,
  type EnqueueInput,
  isSpooled,
  nextHopOf,
  openDraft,
  openQueue,
  type QueuedMessage,
  startDelivery,
} from '@moat/queue';
import { loadConfig } from '@moat/config';
import { fileStsStore, outboundTls, outcomeRecorder, wireResolver } from '@moat/tlspolicy';
import { connectRedis, redisTargetFromConfig } from '@moat/redis';
import { routingFromConfig } from './routing.ts';
import { redisDayLock, startTlsReportTimer } from './tls-report-timer.ts';

/** What the thread needs from config (plain data: the thread does not load the config code). */
export interface DeliveryWorkerData {
  hostname: string;
  maxMessageSize: number;
  queue: {
    dir: string;
    transport: string;
    concurrency: number;
    retry: { initial: number; max: number };
    delay_warning: number;
    max_lifetime: number;
    dkim: ReadonlyArray<{ domain: string; selector: string; key: string; match?: string | undefined }>;
  };
  resolver: string;
  /**
   * The config file (with MOAT_* from the shared environment): the thread builds its own address resolver
   * from it, so DSNs are resolved like any recipient and maildirs take only our domains.
   */
  configFile: string;
}

type FromThread =
  | { type: 'metrics'; seq: number; text: string }
  | { type: 'enqueued'; seq: number; queued: QueuedMessage }
  | { type: 'enqueue-failed'; seq: number; error: string; code?: string | undefined }
  | { type: 'reloaded'; seq: number; error?: string | undefined };

export interface DeliveryThread {
  worker: Worker;
  /**
   * Spool a message in the thread (open, write, fsync, rename happen there, off the SMTP thread).
   * Resolves only once the thread's queue says the file is durable; rejects if the thread fails.
   */
  enqueue(input: EnqueueInput): Promise<QueuedMessage>;
  /**
   * A draft in the spool's tmp/, written from this (the SMTP) thread as DATA arrives: the first queue file
   * adopts it (later next hops copy its body), so only the file's name crosses between threads.
   */
  draft(): Promise<Draft>;
  /** The thread's metrics (queue, deliveries) in Prometheus text format, for the process's /metrics. */
  metrics(): Promise<string>;
  /** Re-read the DKIM keys the config file names now (a reload); rejects, keeping the old keys, when one is unreadable. */
  reload(): Promise<void>;
  kick(): void;
  stop(): Promise<void>;
}

/** Start the runner thread from `entry` (dist/delivery.worker.js, or the .ts in development). */
export function startDeliveryThread(entry: URL, data: DeliveryWorkerData): DeliveryThread {
  // a small young generation: the thread's garbage is short-lived buffers, and V8 keeps what it grew
  const worker = new Worker(entry, { workerData: data, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: 12 } });
  worker.unref();
  let pending = false;
  let seq = 0;
  const waiting = new Map<number, { resolve(q: QueuedMessage): void; reject(e: Error): void }>();
  const scrapes = new Map<number, (text: string) => void>();
  const reloads = new Map<number, (error: string | undefined) => void>();
  const failAll = (why: string) => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
  };
  worker.on('message', (m: FromThread) => {
    if (m.type === 'metrics') {
      scrapes.get(m.seq)?.(m.text);
      scrapes.delete(m.seq);
      return;
    }
    if (m.type === 'reloaded') {
      reloads.get(m.seq)?.(m.error);
      reloads.delete(m.seq);
      return;
    }
    const w = waiting.get(m.seq);
    if (!w) return;
    waiting.delete(m.seq);
    if (m.type === 'enqueued') w.resolve(m.queued);
    else w.reject(Object.assign(new Error(m.error), { code: m.code }));
  });
  let dead: string | undefined;
  worker.on('error', (e) => {
    dead = `delivery thread failed: ${e.message}`;
    failAll(dead);
  });
  worker.on('exit', (code) => {
    dead ??= `delivery thread exited (${code})`;
    failAll(dead);
  });
  return {
    worker,
    metrics() {
      if (dead) return Promise.resolve('');
      const n = ++seq;
      return new Promise<string>((resolve) => {
        const t = setTimeout(() => {
          scrapes.delete(n);
          resolve('');
        }, 2000);
        scrapes.set(n, (text) => {
          clearTimeout(t);
          resolve(text);
        });
        worker.postMessage({ type: 'metrics', seq: n });
      });
    },
    reload() {
      if (dead) return Promise.reject(new Error(dead));
      const n = ++seq;
      return new Promise<void>((resolve, reject) => {
        reloads.set(n, (error) => (error ? reject(new Error(error)) : resolve()));
        worker.postMessage({ type: 'reload', seq: n });
      });
    },
    enqueue(input) {
      if (dead) return Promise.reject(new Error(dead));
      if (!Buffer.isBuffer(input.message) && !isSpooled(input.message)) {
        return Promise.reject(new TypeError('the delivery thread takes the message as a Buffer or a spooled draft'));
      }
      const n = ++seq;
      return new Promise<QueuedMessage>((resolve, reject) => {
        waiting.set(n, { resolve, reject });
        // structured clone copies the bytes (the Buffer may share a pooled ArrayBuffer: no transfer)
        worker.postMessage({ type: 'enqueue', seq: n, input });
      });
    },
    draft: () => openDraft(data.queue.dir),
    kick() {
      // coalesce: at most one kick per 10 ms (the runner takes everything due when kicked)
      if (pending) return;
      pending = true;
      setTimeout(() => {
        pending = false;
        worker.postMessage('kick');
      }, 10).unref();
    },
    stop() {
      return new Promise((resolve) => {
        const t = setTimeout(() => void worker.terminate().then(() => resolve()), 8000);
        worker.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        worker.postMessage('stop');
      });
    },
  };
}

/** The thread's body: its own queue handle, runner, logger (straight to fd 1, not through the main thread). */
export async function runDeliveryThread(data: DeliveryWorkerData): Promise<void> {
  const config = { queue: data.queue, dns: { resolver: data.resolver } };
  const logger = createLogger('mx', { destination: createWriteStream('', { fd: 1, autoClose: false }) }).child({ component: 'delivery' });
  // prom-client registries are per thread: the main thread asks for this one's text at each scrape
  const registry = createRegistry();
  const queue = await openQueue({ dir: config.queue.dir, logger, registry, maxMessageSize: data.maxMessageSize });
  const readKeys = (keys: DeliveryWorkerData['queue']['dkim']) =>
    Promise.all(
      keys.map(async (k) => {
        const privateKey = await readFile(k.key, 'utf8');
        createPrivateKey(privateKey); // an unreadable key fails the start or the reload, not each signature
        return { domain: k.domain, selector: k.selector, privateKey, match: k.match };
      }),
    );
  // one array for the thread's life: the router and transports hold it, a reload replaces its contents
  const dkim = await readKeys(config.queue.dkim);
  const mx = dnsMxResolver([config.dns.resolver]);
  const full = loadConfig(data.configFile);
  const routing = routingFromConfig(full, { logger: logger.child({ component: 'maps' }), registry });
  // MTA-STS and DANE for MX deliveries (docs/tls.md): through the same validating resolver
  const tlsCfg = full.queue.tls;
  const tlsLogger = logger.child({ component: 'tls-policy' });
  const tlsPolicy =
    tlsCfg.dane || tlsCfg.mta_sts || !['may', 'dane'].includes(tlsCfg.security_level) || Object.keys(tlsCfg.policies).length > 0
      ? outboundTls({
          resolver: wireResolver([config.dns.resolver], { timeoutMs: tlsCfg.lookup_timeout }),
          level: tlsCfg.security_level,
          policies: tlsCfg.policies,
          dane: tlsCfg.dane,
          mtaSts: tlsCfg.mta_sts,
          stsTimeoutMs: tlsCfg.fetch_timeout,
          // policies outlive a restart (RFC 8461 5.1): one fsynced file per domain in the spool, per node
          stsStore: fileStsStore(join(config.queue.dir, 'mta-sts'), tlsLogger),
          outcomes: outcomeRecorder({ registry, dir: tlsCfg.report_dir ?? join(config.queue.dir, 'tlsrpt'), logger: tlsLogger }),
          logger: tlsLogger,
        })
      : undefined;
  const router = createRouter({
    heloName: data.hostname,
    resolver: mx,
    dkim,
    isLocal: routing.isLocal,
    recipientDelimiter: full.routing.recipient_delimiter ?? full.recipients.recipient_delimiter,
    logger,
    tlsPolicy,
  });
  // the daily TLS-RPT send (queue.tls.report_send): reports go through this thread's queue like any outbound mail
  const reportSend = tlsCfg.report_send ?? (tlsCfg.report_organization !== undefined || tlsCfg.report_contact !== undefined);
  const reportRedis = reportSend ? connectRedis(redisTargetFromConfig(full.greylist.redis), { connectionName: 'moat-mx-tlsrpt', connectTimeoutMs: 5000 }) : undefined;
  reportRedis?.on('error', () => undefined); // a run that cannot take the lock logs and retries (tls-report-timer.ts)
  const reportDns = wireResolver([config.dns.resolver], { timeoutMs: tlsCfg.lookup_timeout });
  let kickRunner = () => {};
  const reportTimer = reportRedis
    ? startTlsReportTimer({
        at: tlsCfg.report_time,
        dir: tlsCfg.report_dir ?? join(config.queue.dir, 'tlsrpt'),
        hostname: data.hostname,
        organization: tlsCfg.report_organization ?? full.policy.hostname,
        contact: tlsCfg.report_contact ?? `mailto:postmaster@${full.policy.hostname}`,
        txt: async (name) => (await reportDns.txt(name)).records,
        enqueue: async (input) => {
          const q = await queue.enqueue(input);
          kickRunner();
          return q;
        },
        lock: redisDayLock(reportRedis, data.hostname),
        logger: logger.child({ component: 'tlsrpt' }),
        registry,
      })
    : undefined;
  const runner = await startDelivery({
    queue,
    // v1 queue files (from before per-recipient next hops) still go by their route
    transports: {
      local: router.transportFor(nextHopOf(config.queue.transport), false),
      relay: createTransport('relay', { heloName: data.hostname, resolver: mx, dkim, logger, ...(tlsPolicy ? { tlsPolicy } : {}) }),
    },
    router,
    resolver: routing.resolver,
    registry,
    logger,
    concurrency: config.queue.concurrency,
    backoff: { first: config.queue.retry.initial, max: config.queue.retry.max },
    // an unreachable next hop is left alone as long as a first retry waits (Postfix ties it to minimal_backoff_time)
    deadDestinationMs: Math.min(config.queue.retry.initial, 60_000),
    delayWarningAfter: config.queue.delay_warning,
    maxLifetime: config.queue.max_lifetime,
    hostname: data.hostname,
  });
  kickRunner = () => runner.kick();
  parentPort?.on('message', (m: unknown) => {
    if (m && typeof m === 'object' && (m as { type?: string }).type === 'metrics') {
      const { seq } = m as { seq: number };
      registry.metrics().then(
        (text) => parentPort?.postMessage({ type: 'metrics', seq, text }),
        () => parentPort?.postMessage({ type: 'metrics', seq, text: '' }),
      );
      return;
    }
    if (m && typeof m === 'object' && (m as { type?: string }).type === 'enqueue') {
      const { seq, input } = m as { seq: number; input: EnqueueInput };
      // structured clone turned Buffers into Uint8Arrays (a spooled message's head is re-wrapped by the queue)
      const message = isSpooled(input.message)
        ? input.message
        : Buffer.from((input.message as Uint8Array).buffer, (input.message as Uint8Array).byteOffset, (input.message as Uint8Array).byteLength);
      queue.enqueue({ ...input, message }).then(
        (queued) => {
          parentPort?.postMessage({ type: 'enqueued', seq, queued: { id: queued.id } });
          runner.kick();
        },
        (e: unknown) =>
          parentPort?.postMessage({ type: 'enqueue-failed', seq, error: String((e as Error)?.message ?? e), code: (e as { code?: string })?.code }),
      );
      return;
    }
    if (m && typeof m === 'object' && (m as { type?: string }).type === 'reload') {
      const { seq } = m as { seq: number };
      // the DKIM keys a reloaded config names (queue.dir, concurrency and retries wait for a restart)
      Promise.resolve()
        .then(() => readKeys(loadConfig(data.configFile).queue.dkim))
        .then(
          (keys) => {
            dkim.splice(0, dkim.length, ...keys);
            logger.info({ event: 'reload', dkim: keys.map((k) => `${k.selector}._domainkey.${k.domain}`) }, 'DKIM keys re-read');
            parentPort?.postMessage({ type: 'reloaded', seq });
          },
          (e: unknown) => parentPort?.postMessage({ type: 'reloaded', seq, error: `DKIM keys: ${(e as Error)?.message ?? String(e)}` }),
        );
      return;
    }
    if (m === 'kick') runner.kick();
    if (m === 'stop') {
      void (async () => {
        reportTimer?.stop();
        reportRedis?.disconnect();
        await runner.stop();
        await queue.close();
        process.exit(0);
      })();
    }
  });
}
