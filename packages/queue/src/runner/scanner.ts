// The queue manager's scan: which messages to claim next from incoming/ and deferred/, within its limits.
// Trusts the spool's directories; a file taken by another runner meanwhile is simply skipped.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Claimed } from '../spool.ts';
import type { RunnerContext } from './context.ts';

export interface Scanner {
  /** Deliveries running now, by queue id. */
  readonly inFlight: Map<string, Promise<void>>;
  /** Claim what is due (new mail, and with `withDeferred` due retries) and start delivering it. */
  scanOnce(withDeferred: boolean): Promise<boolean>;
  /** An id queued through this process's handle: known without listing incoming/. */
  known(id: string): void;
  /** List incoming/ again at the next scan (new mail from elsewhere). */
  reread(): void;
  /** Time to look through deferred/ again (the last look is deferredScanMs old). */
  deferredDue(): boolean;
  /** Due retries were left over at the last look (no slot, over the memory budget). */
  backlog(): boolean;
}

/**
 * `run` delivers a claimed message; `done` is called after each delivery (to scan again); `stopping` says
 * no more claims are to be made.
 */
export function createScanner(ctx: RunnerContext, owner: string, run: (c: Claimed) => Promise<void>, done: () => void, stopping: () => boolean): Scanner {
  const { queue, clock, concurrency, memoryBudget } = ctx;
  const inFlight = new Map<string, Promise<void>>();
  let bytesInFlight = 0;
  let lastDeferredScan = 0;
  let deferredBacklog = false;
  const knownIncoming = new Set<string>();
  let rereadIncoming = true;
  let lastIncomingRead = 0;

  /** Alternate new and retried mail, so a flood of new mail cannot starve the deferred queue (or the reverse). */
  function* candidates(due: string[]): Generator<['incoming' | 'deferred', string]> {
    const inc = knownIncoming.values();
    let d = 0;
    for (;;) {
      const next = inc.next();
      if (!next.done) yield ['incoming', next.value];
      if (d < due.length) yield ['deferred', due[d++]!];
      if (next.done && d >= due.length) return;
    }
  }

  async function scanOnce(withDeferred: boolean): Promise<boolean> {
    let started = false;
    const now = clock.now();
    if (withDeferred) lastDeferredScan = Date.now();
    // incoming/ is listed when asked (timer, kick, idle) or when we know of nothing; in between, the ids
    // from that listing and from our own enqueues are used: no directory listing per delivered message.
    if (knownIncoming.size === 0 || (rereadIncoming && Date.now() - lastIncomingRead >= 20)) {
      rereadIncoming = false;
      lastIncomingRead = Date.now();
      for (const n of await queue.names('incoming')) knownIncoming.add(n);
    }
    const due = withDeferred ? await queue.due(now) : [];
    if (withDeferred) deferredBacklog = false;
    for (const [from, id] of candidates(due)) {
      if (stopping() || inFlight.size >= concurrency) {
        // Due work left over: look again as soon as a slot frees up.
        if (withDeferred) deferredBacklog = true;
        break;
      }
      if (from === 'incoming') knownIncoming.delete(id);
      if (inFlight.has(id)) continue;
      // Messages are held in memory while delivered: keep the sum under the budget (one always fits).
      let size = (from === 'incoming' && queue.freshSize?.(id)) || 0;
      if (size === 0) {
        try {
          size = (await stat(join(queue.dir, from, id))).size;
        } catch {
          continue; // taken by someone else meanwhile
        }
      }
      if (inFlight.size > 0 && bytesInFlight + size > memoryBudget) {
        if (from === 'incoming') knownIncoming.add(id);
        if (withDeferred) deferredBacklog = true;
        break;
      }
      const c = await queue.claim(from, id, owner);
      if (!c) continue;
      started = true;
      bytesInFlight += size;
      const job = run(c).finally(() => {
        inFlight.delete(id);
        bytesInFlight -= size;
        done();
      });
      inFlight.set(id, job);
    }
    return started;
  }

  return {
    inFlight,
    scanOnce,
    known: (id) => knownIncoming.add(id),
    reread: () => {
      rereadIncoming = true;
    },
    deferredDue: () => Date.now() - lastDeferredScan >= ctx.deferredScanMs,
    backlog: () => deferredBacklog,
  };
}
