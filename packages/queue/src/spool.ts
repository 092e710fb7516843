// The spool: Postfix-style directories where a message's state is the directory its file sits in.
// Trusts the local file system and fsync; message bytes are untrusted and stored as received.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Logger, Registry } from '@moat/observe';
import { type Clock, systemClock } from './clock.ts';
import { type Draft, openDraft } from './draft.ts';
import { createDirSyncer } from './fsync.ts';
import { freshFiles } from './spool/fresh.ts';
import { type QueueMetrics, queueMetrics } from './metrics.ts';
import type { Envelope } from './record.ts';
import { listSpool, spoolNames } from './reader.ts';
import { activeOps, type Claimed } from './spool/active.ts';
import { type SpoolContext, spoolPath } from './spool/context.ts';
import { createEnqueue } from './spool/enqueue.ts';
import { operatorOps } from './spool/operator.ts';
import { sweepTmp, writerOf } from './tmp-files.ts';
import { type EnqueueInput, type QueueEntry, type QueuedMessage, type QueueState, type QueueWriter, STATES } from './types.ts';

export { STATES, type Claimed, type QueueEntry, type QueueState };

export interface QueueOptions {
  /** The spool directory (created if missing). */
  dir: string;
  clock?: Clock;
  logger: Logger;
  registry: Registry;
  /**
   * fsync files and directories (default true). Only the benchmark turns it off, to show its cost;
   * with false the queue may lose acknowledged mail on power loss.
   */
  fsync?: boolean;
  /** Largest message accepted by enqueue, bytes (default 50 MiB). */
  maxMessageSize?: number;
  /**
   * Refuse new mail while the spool's file system has less free space than this (Postfix queue_minfree;
   * default 0 = never). Delivery, DSNs and rewrites are not refused: they free space or are needed.
   */
  minFreeBytes?: number;
  /** This node's name in a quarantined message's hold record (default: the host name). */
  node?: string;
}

export interface Queue extends QueueWriter {
  readonly dir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: QueueMetrics;
  /** `internal.kind` marks DSNs the runner generates (they are never bounced or warned about). */
  enqueue(input: EnqueueInput, internal?: { kind: Envelope['kind'] }): Promise<QueuedMessage>;
  /** Called after each enqueue by this handle (the runner wakes up on it). */
  onEnqueue(listener: (id: string) => void): () => void;
  /** Ids in one state directory (for active: `id.owner` names). */
  names(state: QueueState): Promise<string[]>;
  /** Ids in deferred/ whose retry time (mtime) has come. */
  due(now: number): Promise<string[]>;
  /**
   * Take a message for delivery: rename from incoming/ or deferred/ into active/ under `owner`'s
   * name. The rename is the lock; null if another runner got it first. A file that fails to parse is
   * moved to corrupt/ and null returned.
   */
  claim(from: 'incoming' | 'deferred', id: string, owner: string): Promise<Claimed | null>;
  /** Rewrite a claimed message's envelope in place (durable, atomic). */
  update(claimed: Claimed): Promise<void>;
  /** Rewrite and move to deferred/ with mtime = next retry. */
  defer(claimed: Claimed, nextRetry: number): Promise<void>;
  /** All recipients are done: remove the file. */
  finish(claimed: Claimed): Promise<void>;
  /** Put a claimed (or orphaned active) file back into incoming/. */
  unclaim(activeName: string): Promise<void>;
  /** Move a damaged file aside, with a log line and a metric; never throws. */
  moveToCorrupt(state: QueueState, name: string, reason: string): Promise<void>;
  /** mailq: every message, oldest first. */
  list(): Promise<QueueEntry[]>;
  /** Make deferred messages (all, or these ids) due now. Returns how many. */
  flush(ids?: string[]): Promise<number>;
  hold(ids: string[]): Promise<string[]>;
  release(ids: string[]): Promise<string[]>;
  delete(ids: string[]): Promise<string[]>;
  close(): Promise<void>;
  /** The size of a queue file this handle just wrote, if it still remembers it (spool/fresh.ts); else undefined. */
  freshSize?(id: string): number | undefined;
}

export async function openQueue(opts: QueueOptions): Promise<Queue> {
  const dir = opts.dir;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger.child({ module: 'queue' });
  const doSync = opts.fsync !== false;
  // the spool's state directories stay open: one fsync per sync, no open and close around it
  const dirSync = createDirSyncer({ keepOpen: true });
  const syncDir = (d: string) => (doSync ? dirSync(d) : Promise.resolve());
  const p = spoolPath(dir);

  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const s of [...STATES, 'tmp'] as const) await mkdir(p(s), { recursive: true, mode: 0o700 });
  if (doSync) await dirSync(dir);

  const listeners = new Set<(id: string) => void>();
  let closed = false;

  const names = (state: QueueState) => spoolNames(dir, state);

  const metrics = queueMetrics(opts.registry, async () => {
    const out: Record<string, number> = {};
    for (const s of STATES) out[s] = (await names(s)).length;
    return out;
  });

  // Crash leftovers in tmp/ were never acknowledged (a file leaves tmp/ by its rename into incoming/, and the
  // 250 comes after that): those of dead writers go now; a live writer's (this process's other thread, another
  // MX on this host) stay. Names without a writer (older versions) or from another host go after an hour.
  const swept = await sweepTmp(p('tmp'), { writer: writerOf });
  if (swept.length > 0) {
    metrics.tmpSwept.inc(swept.length);
    logger.info({ event: 'tmp-swept', count: swept.length, files: swept.slice(0, 20) }, 'removed files of dead transactions from tmp/');
  }

  const ctx: SpoolContext = {
    dir,
    clock,
    logger,
    metrics,
    doSync,
    maxSize: opts.maxMessageSize ?? 50 * 1024 * 1024,
    minFreeBytes: opts.minFreeBytes,
    node: opts.node ?? hostname(),
    p,
    syncDir,
    names,
    fresh: freshFiles(),
  };
  /** Drafts being adopted by an enqueue now (a second enqueue of the same draft copies instead). */
  const adopting = new Set<string>();
  const enqueue = createEnqueue(ctx, { isOpen: () => !closed, listeners, adopting });

  return {
    dir,
    clock,
    logger,
    metrics,
    enqueue,
    draft: (): Promise<Draft> => openDraft(dir, logger),
    onEnqueue(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    names,
    freshSize: (id) => ctx.fresh.size(id),
    ...activeOps(ctx),
    /** mailq: the same read-only view as openQueueReader's. */
    list: () => listSpool(dir),
    ...operatorOps(ctx),
    async close() {
      closed = true;
      listeners.clear();
      ctx.fresh.clear();
      await dirSync.close();
    },
  };
}
