// The node's admin listener: /metrics (this thread's registry and the delivery thread's), /healthz, POST /-/reload
// and the quarantine's routes, with the quarantine's hourly expiry. Talks to whoever reaches metrics.listen; trusts the token.
import type { Server } from 'node:http';
import type { Config, MxView } from '@moat/config';
import { type Logger, type Registry, serveMetrics } from '@moat/observe';
import type { DeliveryThread } from '@moat/queue';
import type { Reloader } from '@moat/runtime';
import { type Learner, spamdLearner } from '@moat/spamd';
import type { MxGeneration } from './generation.ts';
import { splitHostPort } from './listeners.ts';
import { type NodeQuarantine, startQuarantine } from './quarantine.ts';

export interface AdminOptions {
  config: Config;
  settings: MxView;
  /** --metrics HOST:PORT|off, when given. */
  metricsArg: string | undefined;
  delivery: DeliveryThread | undefined;
  generations: Reloader<MxGeneration>;
  logger: Logger;
  registry: Registry;
}

export interface Admin {
  /** Where metrics are served, or `off`. */
  metricsAt: string;
  metrics: Server | undefined;
  quarantine: NodeQuarantine;
}

export async function startAdmin(o: AdminOptions): Promise<Admin> {
  const { config, generations, delivery, registry } = o;
  // the quarantine (hold/ of this spool): its routes on the admin listener, its hourly expiry. Its learner
  // (release --learn-ham, delete --learn-spam) teaches the spamd of the config in force (TELL).
  const learner: Learner = async (message, as) => {
    const spamd = generations.current().spamd;
    if (!spamd) throw new Error('spamd is not enabled (spamd.enabled: false): nothing to teach');
    await spamdLearner(spamd)(message, as);
  };
  const quarantine = startQuarantine({ dir: config.queue.dir, retentionMs: o.settings.quarantine.retentionMs, token: o.settings.quarantine.adminToken, logger: o.logger, registry, learner });

  const metricsAt = o.metricsArg ?? (config.metrics.enabled ? config.metrics.listen : 'off');
  // one /metrics for the process: this thread's registry plus the delivery thread's (queue, deliveries)
  const scraped = delivery
    ? ({
        contentType: registry.contentType,
        metrics: async () => `${await registry.metrics()}\n${await delivery.metrics()}`,
      } as unknown as typeof registry)
    : registry;
  const metrics =
    metricsAt === 'off'
      ? undefined
      : await serveMetrics(scraped, {
          ...splitHostPort(metricsAt),
          health: () => generations.current().built.health(),
          reload: { run: (trigger) => generations.reload(trigger), last: () => generations.last() },
          quarantine: quarantine.routes,
        });
  return { metricsAt, metrics, quarantine };
}
