// The queue manager: claims due messages by rename, delivers per recipient, retries with backoff, sends DSNs.
// Trusts the spool and the transports' per-recipient results; never bounces to the null sender.
import type { Claimed } from './spool.ts';
import { deliverMessage } from './runner/attempt.ts';
import { type DeliveryOptions, type DeliveryRunner, runnerContext } from './runner/context.ts';
import { createDestinations } from './runner/destinations.ts';
import { newOwner, takeLease } from './runner/recovery.ts';
import { createScanner } from './runner/scanner.ts';

export type { DeliveryOptions, DeliveryRunner };

export async function startDelivery(opts: DeliveryOptions): Promise<DeliveryRunner> {
  const ctx = runnerContext(opts);
  const { queue, clock, log, concurrency, perDest, firstBackoff, maxBackoff, delayWarningAfter, maxLifetime } = ctx;
  const owner = newOwner();
  const dests = createDestinations(perDest, ctx.deadDestinationMs, clock);
  let stopping = false;
  let scanning: Promise<void> | null = null;
  let rescan = false;
  let idleWaiters: (() => void)[] = [];

  const lease = await takeLease(queue, owner, log);
  await lease.recover();

  async function runClaimed(c: Claimed): Promise<void> {
    try {
      await deliverMessage(ctx, dests, c);
    } catch (e) {
      log.error({ queueId: c.id, err: (e as Error).message }, 'delivery bookkeeping failed; deferring');
      try {
        await queue.defer(c, clock.now() + firstBackoff);
      } catch (e2) {
        // Left in active/ under our name: the next start (or another runner after we die) recovers it.
        log.error({ queueId: c.id, err: (e2 as Error).message }, 'could not defer; left in active/');
      }
    }
  }
  const scanner = createScanner(
    ctx,
    owner,
    runClaimed,
    () => kick(scanner.backlog() || scanner.deferredDue(), false),
    () => stopping,
  );
  const { inFlight } = scanner;

  function settleIdle(): void {
    if (inFlight.size === 0 && !scanning) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  }

  let wantDeferred = false;
  /** Scan now; `full` also looks through deferred/; `reread` lists incoming/ again (new mail from elsewhere). */
  function kick(full = true, reread = true): void {
    if (stopping) return;
    if (full) wantDeferred = true;
    if (reread) scanner.reread();
    if (scanning) {
      rescan = true;
      return;
    }
    scanning = (async () => {
      do {
        rescan = false;
        const withDeferred = wantDeferred;
        wantDeferred = false;
        try {
          await scanner.scanOnce(withDeferred);
        } catch (e) {
          log.error({ err: (e as Error).message }, 'queue scan failed');
        }
      } while (rescan && !stopping);
    })().finally(() => {
      scanning = null;
      settleIdle();
    });
  }

  const offEnqueue = queue.onEnqueue((id) => {
    scanner.known(id);
    kick(false, false);
  });
  // Not unref'd: a running queue manager keeps its process alive until stop().
  const timer = setInterval(() => kick(scanner.deferredDue(), true), opts.scanIntervalMs ?? 1000);
  kick();
  log.info({ owner, concurrency, perDest, firstBackoff, maxBackoff, delayWarningAfter, maxLifetime }, 'delivery started');

  return {
    owner,
    kick: (deferred = false) => kick(deferred, true),
    inFlight: () => inFlight.size,
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        kick();
      });
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      lease.stopBeat();
      offEnqueue();
      await scanning;
      await Promise.all(inFlight.values());
      await lease.release();
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
      log.info({ owner }, 'delivery stopped');
    },
  };
}
