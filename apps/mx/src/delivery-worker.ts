// The queue runner in its own thread (its own event loop and core): SMTP sessions never wait behind
// deliveries. Talks to the spool directory and the next hops; the main thread only kicks it.
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parentPort, Worker } from 'node:worker_threads';
import { createLogger, createRegistry } from '@moat/observe';
import { createTransport, dnsMxResolver, openQueue, startDelivery } from '@moat/queue';

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
    dkim: ReadonlyArray<{ domain: string; selector: string; key: string }>;
  };
  resolver: string;
}

/** Start the runner thread from `entry` (dist/delivery.worker.js, or the .ts in development). */
export function startDeliveryThread(entry: URL, data: DeliveryWorkerData): { kick(): void; stop(): Promise<void>; worker: Worker } {
  const worker = new Worker(entry, { workerData: data, stdout: false, stderr: false });
  worker.unref();
  let pending = false;
  return {
    worker,
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
  // its metrics stay in this thread (prom-client registries are per thread); the queue logs every outcome
  const registry = createRegistry();
  const queue = await openQueue({ dir: config.queue.dir, logger, registry, maxMessageSize: data.maxMessageSize });
  const dkim = await Promise.all(
    config.queue.dkim.map(async (k) => ({ domain: k.domain, selector: k.selector, privateKey: await readFile(k.key, 'utf8') })),
  );
  const runner = await startDelivery({
    queue,
    transports: {
      local: createTransport(config.queue.transport, { heloName: data.hostname }),
      relay: createTransport('relay', { heloName: data.hostname, resolver: dnsMxResolver([config.dns.resolver]), dkim }),
    },
    registry,
    logger,
    concurrency: config.queue.concurrency,
    backoff: { first: config.queue.retry.initial, max: config.queue.retry.max },
    delayWarningAfter: config.queue.delay_warning,
    maxLifetime: config.queue.max_lifetime,
    hostname: data.hostname,
  });
  parentPort?.on('message', (m: unknown) => {
    if (m === 'kick') runner.kick();
    if (m === 'stop') {
      void (async () => {
        await runner.stop();
        await queue.close();
        process.exit(0);
      })();
    }
  });
}
