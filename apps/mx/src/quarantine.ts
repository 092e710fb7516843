// The node's quarantine for its admin listener: /-/quarantine's routes over this spool's hold/, and the
// hourly expiry of what is past quarantine.retention. Trusts the callers the listener lets through (the token).
import type { Logger, QuarantineRoutes, Registry } from '@moat/observe';
import { type Learner, openQuarantine, type Quarantine } from '@moat/queue';

/** How often held messages are checked against the retention (and once at start). */
const EXPIRE_EVERY_MS = 3_600_000;

export interface NodeQuarantine {
  quarantine: Quarantine;
  routes: QuarantineRoutes;
  stop(): void;
}

export function startQuarantine(opts: { dir: string; retentionMs: number; token: string | undefined; logger: Logger; registry: Registry; learner?: Learner | undefined }): NodeQuarantine {
  const logger = opts.logger.child({ component: 'quarantine' });
  const quarantine = openQuarantine({ dir: opts.dir, retentionMs: opts.retentionMs, logger, registry: opts.registry, learner: opts.learner });
  const expire = async () => {
    try {
      const gone = await quarantine.expire();
      if (gone.length) logger.info({ event: 'quarantine-expiry', count: gone.length }, 'expired held messages past retention');
      return gone;
    } catch (e) {
      logger.error({ event: 'quarantine-expiry', err: (e as Error).message }, 'quarantine expiry failed');
      throw e;
    }
  };
  void expire().catch(() => undefined);
  const timer = setInterval(() => void expire().catch(() => undefined), EXPIRE_EVERY_MS);
  timer.unref();
  return {
    quarantine,
    routes: {
      token: opts.token,
      list: () => quarantine.list(),
      show: (id) => quarantine.show(id),
      act: (action, id, o) => (action === 'release' ? quarantine.release(id, o) : quarantine.delete(id, o)),
      async expire(by) {
        logger.info({ event: 'quarantine-expiry', by }, 'expiry asked for');
        return { expired: await expire() };
      },
    },
    stop: () => clearInterval(timer),
  };
}
