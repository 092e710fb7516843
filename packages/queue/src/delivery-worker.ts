// The queue runner in its own thread (its own event loop and core): SMTP sessions never wait behind deliveries.
// Talks to the spool directory and the next hops; trusts the plain data it is started with (delivery-thread.ts).
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { mailboxDomains } from '@moat/address';
import { bufferedStdout, createLogger, createRegistry, type Logger, PIPE_BUF, type Registry } from '@moat/observe';
import type { DeliveryWorkerData, DkimKeyRef } from './delivery-thread.ts';
import { isSpooled } from './draft.ts';
import { startDelivery } from './runner.ts';
import { openQueue } from './spool.ts';
import { threadResolver } from './thread-resolver.ts';
import { createTransport } from './transports/index.ts';
import { nextHopOf } from './transports/next-hop.ts';
import { dnsMxResolver } from './transports/relay.ts';
import { createRouter } from './transports/router.ts';
import type { NextHopTlsPolicy, OutboundTlsPolicy } from './transports/tls-requirement.ts';
import type { EnqueueInput, QueuedMessage } from './types.ts';

/** What the thread's entry gets to build its own parts with. */
export interface DeliveryThreadContext {
  registry: Registry;
  logger: Logger;
  queueDir: string;
  resolver: string;
  hostname: string;
}

export interface DeliveryThreadOptions<Tls> {
  /** Builds the outbound TLS policy (MTA-STS, DANE) from the data's `tls`, in the thread; none: opportunistic TLS. */
  tlsPolicy?: ((tls: Tls, ctx: DeliveryThreadContext) => OutboundTlsPolicy | undefined) | undefined;
  /** Builds the TLS levels of next hops without MX lookup (relayhost, LMTP); none: opportunistic smtp, plain LMTP. */
  hopTls?: ((tls: Tls, ctx: DeliveryThreadContext) => NextHopTlsPolicy | undefined) | undefined;
  /**
   * Jobs of the entry's that queue mail from this thread once the runner runs (the daily TLS-RPT send):
   * `enqueue` spools and wakes the runner. Stopped with the thread.
   */
  services?: ((tls: Tls, ctx: DeliveryThreadContext & { enqueue(input: EnqueueInput): Promise<QueuedMessage> }) => { stop(): void } | undefined) | undefined;
  /**
   * The entry's upkeep of this thread's heap (apps/mx memory-upkeep.ts), started with the runner: `busy()` names
   * the deliveries and spool writes in flight (undefined when none), which a pause of the thread would stall.
   */
  upkeep?: ((ctx: DeliveryThreadContext & { busy(): string | undefined }) => { stop(): void }) | undefined;
}

/** Reads the keys' files; an unreadable or malformed key fails the start or the reload, not each signature. */
const readKeys = (keys: readonly DkimKeyRef[]) =>
  Promise.all(
    keys.map(async (k) => {
      const privateKey = await readFile(k.key, 'utf8');
      createPrivateKey(privateKey);
      return { domain: k.domain, selector: k.selector, privateKey, match: k.match };
    }),
  );

/** The thread's body: its own queue handle, runner, logger (its own buffer to fd 1, not through the main thread). */
export async function runDeliveryThread<Tls>(data: DeliveryWorkerData<Tls>, opts: DeliveryThreadOptions<Tls> = {}): Promise<void> {
  const q = data.queue;
  // batched like the SMTP thread's (both write fd 1 in PIPE_BUF pieces cut at line ends, asynchronously); flushed
  // when 'stop' arrives and again, with a bounded wait, before the thread exits (the main thread terminates it
  // after 8 s). No registry: the main thread's has moat_log_lines_dropped_total, and the texts are concatenated.
  const logOut = bufferedStdout({ pieceBytes: PIPE_BUF });
  const logger = createLogger('mx', { destination: logOut }).child({ component: 'delivery' });
  // prom-client registries are per thread: the main thread asks for this one's text at each scrape
  const registry = createRegistry();
  const queue = await openQueue({ dir: q.dir, logger, registry, maxMessageSize: data.maxMessageSize });
  // one array for the thread's life: the router and transports hold it, a reload replaces its contents
  const dkim = await readKeys(data.dkim);
  const mx = dnsMxResolver([data.resolver]);
  // the SMTP side's resolver, rebuilt from its spec: the same tables (alias_maps files read as aliases(5) here too),
  // opened and watched here
  const { resolver, tables } = threadResolver(data.routing);
  tables.watch({ logger: logger.child({ component: 'maps' }), registry });
  const ctx: DeliveryThreadContext = { registry, logger, queueDir: q.dir, resolver: data.resolver, hostname: data.hostname };
  const tlsPolicy = opts.tlsPolicy?.(data.tls, ctx);
  const hopTls = opts.hopTls?.(data.tls, ctx);
  const router = createRouter({
    heloName: data.hostname,
    resolver: mx,
    dkim,
    isLocal: mailboxDomains(resolver),
    recipientDelimiter: data.routing.spec.recipientDelimiter,
    logger,
    tlsPolicy,
    hopTls,
  });
  const runner = await startDelivery({
    queue,
    // v1 queue files (from before per-recipient next hops) still go by their route
    transports: {
      local: router.transportFor(nextHopOf(q.transport), false),
      relay: createTransport('relay', { heloName: data.hostname, resolver: mx, dkim, logger, ...(tlsPolicy ? { tlsPolicy } : {}) }),
    },
    router,
    resolver,
    registry,
    logger,
    concurrency: q.concurrency,
    backoff: { first: q.retry.initial, max: q.retry.max },
    // an unreachable next hop is left alone as long as a first retry waits (Postfix ties it to minimal_backoff_time)
    deadDestinationMs: Math.min(q.retry.initial, 60_000),
    delayWarningAfter: q.delay_warning,
    maxLifetime: q.max_lifetime,
    hostname: data.hostname,
  });
  const services = opts.services?.(data.tls, {
    ...ctx,
    async enqueue(input) {
      const queued = await queue.enqueue(input);
      runner.kick();
      return queued;
    },
  });
  // spool writes the SMTP thread is waiting for (its sessions are inside DATA meanwhile)
  let enqueuing = 0;
  const upkeep = opts.upkeep?.({
    ...ctx,
    busy() {
      const deliveries = runner.inFlight();
      if (deliveries === 0 && enqueuing === 0) return undefined;
      return `${deliveries} deliveries, ${enqueuing} spool writes`;
    },
  });
  parentPort?.on('message', (m: unknown) => {
    const type = m && typeof m === 'object' ? (m as { type?: string }).type : undefined;
    if (type === 'metrics') {
      const { seq } = m as { seq: number };
      registry.metrics().then(
        (text) => parentPort?.postMessage({ type: 'metrics', seq, text }),
        () => parentPort?.postMessage({ type: 'metrics', seq, text: '' }),
      );
      return;
    }
    if (type === 'enqueue') {
      const { seq, input } = m as { seq: number; input: EnqueueInput };
      // structured clone turned Buffers into Uint8Arrays (a spooled message's head is re-wrapped by the queue)
      const u8 = input.message as Uint8Array;
      const message = isSpooled(input.message) ? input.message : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
      enqueuing++;
      queue
        .enqueue({ ...input, message })
        .finally(() => enqueuing--)
        .then(
          // no runner.kick() here: the queue's onEnqueue already hands the runner this id (runner.ts), and a
          // kick would also list incoming/ again (a readdir per message)
          (queued) => parentPort?.postMessage({ type: 'enqueued', seq, queued: { id: queued.id } }),
          (e: unknown) =>
            parentPort?.postMessage({ type: 'enqueue-failed', seq, error: String((e as Error)?.message ?? e), code: (e as { code?: string })?.code }),
        );
      return;
    }
    if (type === 'reload') {
      // the DKIM keys a reloaded config names (queue.dir, concurrency and retries wait for a restart)
      const { seq, dkim: next } = m as { seq: number; dkim: DkimKeyRef[] };
      readKeys(next).then(
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
      logOut.flushSync();
      void (async () => {
        services?.stop();
        upkeep?.stop();
        await runner.stop();
        await logOut.flush(1000);
        await queue.close();
        tables.close();
        await logOut.flush(500);
        process.exit(0);
      })();
    }
  });
}
