// The SMTP side's handle on the queue runner's thread (delivery-worker.ts): starts it with plain data, spools
// through it, scrapes its metrics. Trusts the thread's replies; the data it sends was validated by the caller.
import { Worker } from 'node:worker_threads';
import type { PlainResolverSpec } from '@moat/address';
import { type Draft, isSpooled, openDraft } from './draft.ts';
import type { EnqueueInput, QueuedMessage } from './types.ts';

/** A DKIM signing key by where it is (the thread reads the file: keys never cross threads in messages). */
export interface DkimKeyRef {
  domain: string;
  selector: string;
  key: string;
  match?: string | undefined;
}

/**
 * What the thread needs, as plain (structured-cloneable) data, already validated: the thread loads neither the
 * config code nor its schema (a second copy of them cost the MX ~20 MB resident). `Tls` is the outbound TLS
 * settings, opaque here: the entry that starts the thread builds its policy from them.
 */
export interface DeliveryWorkerData<Tls = unknown> {
  hostname: string;
  maxMessageSize: number;
  queue: {
    dir: string;
    /** The mailbox transport of v1 queue files (from before per-recipient next hops). */
    transport: string;
    concurrency: number;
    retry: { initial: number; max: number };
    delay_warning: number;
    max_lifetime: number;
  };
  dkim: readonly DkimKeyRef[];
  /** The DNS resolver (host:port) for MX lookups. */
  resolver: string;
  /**
   * The address resolver's spec (toPlainResolverSpec) and the directory relative table paths start from: the
   * thread opens and watches the same tables, so DSNs are resolved like any recipient and maildirs take only
   * our domains.
   */
  routing: { spec: PlainResolverSpec; baseDir: string };
  tls: Tls;
}

export type FromThread =
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
  /** Read these DKIM keys (a reloaded config's); rejects, keeping the old keys, when one is unreadable. */
  reload(dkim: readonly DkimKeyRef[]): Promise<void>;
  kick(): void;
  stop(): Promise<void>;
}

/** Start the runner thread from `entry` (the app's bundled *.worker.js, or its .ts in development). */
export function startDeliveryThread<Tls>(entry: URL, data: DeliveryWorkerData<Tls>): DeliveryThread {
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
    reload(dkim) {
      if (dead) return Promise.reject(new Error(dead));
      const n = ++seq;
      return new Promise<void>((resolve, reject) => {
        reloads.set(n, (error) => (error ? reject(new Error(error)) : resolve()));
        worker.postMessage({ type: 'reload', seq: n, dkim });
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
