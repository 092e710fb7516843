// The spool at start: the queue thread (spooling and deliveries off the SMTP event loop) or, with --no-delivery,
// a spool opened here and delivered by another process. Trusts the validated config; writes the spool directory.
import { dirname } from 'node:path';
import { toPlainResolverSpec } from '@moat/address';
import { type CompiledConfig, type Config, type MxView, tlsReportFrom, views } from '@moat/config';
import type { Logger, Registry } from '@moat/observe';
import { type DeliveryThread, openQueue, type Queue, type QueueWriter, startDeliveryThread } from '@moat/queue';
import type { DeliveryTls } from './delivery.worker.ts';

export interface Spool {
  /** The queue thread (undefined with --no-delivery). */
  delivery: DeliveryThread | undefined;
  /** The spool opened in this thread (--no-delivery only). */
  localQueue: Queue | undefined;
  /** Where sessions hand accepted mail: the thread, or the local spool. */
  writer: QueueWriter;
}

export interface SpoolOptions {
  config: Config;
  compiled: CompiledConfig;
  settings: MxView;
  /** delivery.worker.ts (or .js in the bundle), resolved by the entry module. */
  workerUrl: URL;
  noDelivery: boolean;
  logger: Logger;
  registry: Registry;
}

export async function startSpool(o: SpoolOptions): Promise<Spool> {
  const { config, settings } = o;
  // The queue runs in its own thread: spooling (open, write, fsync, rename) and deliveries happen
  // there, off the SMTP event loop. --no-delivery spools here and leaves delivery to another process.
  const maxMessageSize = settings.limits.maxMessageSize + 1024 * 1024;
  const delivery = o.noDelivery
    ? undefined
    : startDeliveryThread(o.workerUrl, {
        hostname: settings.hostname,
        maxMessageSize,
        queue: {
          dir: config.queue.dir,
          transport: config.queue.transport,
          concurrency: config.queue.concurrency,
          retry: config.queue.retry,
          delay_warning: config.queue.delay_warning,
          max_lifetime: config.queue.max_lifetime,
        },
        dkim: config.queue.dkim,
        resolver: config.dns.resolver,
        // the resolver as data: the thread opens the same tables without loading the config code
        routing: { spec: toPlainResolverSpec(o.compiled.routing.spec), baseDir: dirname(config.source.file) },
        tls: { queue: config.queue.tls, redis: views.redis(config), policyHostname: config.policy.hostname, reportFrom: tlsReportFrom(config).from } satisfies DeliveryTls,
      });
  const localQueue = delivery ? undefined : await openQueue({ dir: config.queue.dir, logger: o.logger.child({ component: 'queue' }), registry: o.registry, maxMessageSize });
  return { delivery, localQueue, writer: delivery ?? localQueue! };
}
