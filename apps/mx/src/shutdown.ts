// moat-mx's orderly stop on SIGTERM/SIGINT: listeners first, then every generation's sessions (421), the queue
// thread, the spool and the side listeners, under a hard 10 s deadline. Trusts nothing but its own parts.
import type { Server } from 'node:net';
import type { BufferedOut, Logger } from '@moat/observe';
import type { Reloader } from '@moat/runtime';
import type { AcmeRuntime } from './acme.ts';
import type { Admin } from './admin-listener.ts';
import type { MxGeneration } from './generation.ts';
import type { MtaStsServer } from './mta-sts-server.ts';
import type { Spool } from './spool-start.ts';

export interface Running {
  logger: Logger;
  /** The logger's stdout buffer: written out (bounded wait, a stalled reader cannot hold the exit) before exit. */
  logOut?: BufferedOut;
  listeners: readonly Server[];
  generations: Reloader<MxGeneration>;
  spool: Spool;
  admin: Admin;
  acme: AcmeRuntime | undefined;
  sts: MtaStsServer | undefined;
}

/** Whether a stop has begun (the queue thread's exit is then expected, not a failure). */
export interface StopState {
  stopping: boolean;
}

export function stopOnSignals(state: StopState, r: Running): void {
  const { logger } = r;
  const stop = async (signal: string) => {
    if (state.stopping) return;
    state.stopping = true;
    logger.info({ signal }, 'mx stopping');
    // a hard deadline: whatever hangs, the process goes (the queue is durable; nothing is lost)
    setTimeout(() => {
      logger.warn({ signal }, 'mx did not stop in 10 s, exiting');
      void (r.logOut?.flush(500) ?? Promise.resolve()).then(() => process.exit(1));
    }, 10_000).unref();
    const step = async (name: string, f: () => Promise<unknown> | unknown) => {
      logger.debug({ step: name }, 'stopping');
      await f();
    };
    await step('listen', () => Promise.all(r.listeners.map((l) => new Promise((resolve) => l.close(resolve)))));
    // every generation's sessions are told 421 and closed (smtp-server's close), then its adapters
    await step('smtp', () => r.generations.close());
    await step('delivery', () => r.spool.delivery?.stop());
    await step('queue', () => r.spool.localQueue?.close());
    await step('metrics', () => r.admin.metrics?.close());
    r.admin.quarantine.stop();
    await step('acme', () => r.acme?.stop());
    await step('mta-sts', () => r.sts?.close());
    await r.logOut?.flush(1000);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
