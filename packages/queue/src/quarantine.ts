// The quarantine: the spool's hold/ directory seen as held messages with their hold records, and the
// operator's actions on them (list, show, release, delete, expire). Trusts the spool's files only after their
// END record and checksum verify; `by` is whoever the caller authenticated (CLI user, console login).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, Registry } from '@moat/observe';
import { type Clock, systemClock } from './clock.ts';
import { QueueError, QueueErrorCodes } from './errors.ts';
import { createDirSyncer } from './fsync.ts';
import { isQueueId } from './ids.ts';
import { type QuarantineMetrics, quarantineMetrics } from './quarantine-metrics.ts';
import { messagePreview, type MessagePreview } from './preview.ts';
import { type ActionResult, learn, releaseHeld, removeHeld } from './quarantine/actions.ts';
import { heldPath, type Learner, type QuarantineContext } from './quarantine/context.ts';
import { entryOf, type HeldEntry, loadHeld, notFound, subjectOf } from './quarantine/held-file.ts';
import { createLocks } from './quarantine/lock.ts';
import { peekEnvelope } from './reader.ts';

export type { ActionResult, HeldEntry, Learner };

/** quarantine.retention's default: 30 days. */
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export interface QuarantineOptions {
  /** The spool directory (the queue's; hold/ is under it). */
  dir: string;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  /** How long a held message is kept before expire() removes it (default 30 days), ms. */
  retentionMs?: number;
  /** For release --learn-ham / delete --learn-spam; without it, asking to learn is an error. */
  learner?: Learner | undefined;
  /** fsync files and directories (default true; as the queue's option). */
  fsync?: boolean;
}

/** One held message for `show`: the entry, its header fields and a safe text preview. */
export interface HeldMessage extends HeldEntry {
  preview: MessagePreview;
}

export interface ActionOptions {
  /** Who does it (logged and counted; required). */
  by: string;
  /** release: learn as ham after the release; delete: learn as spam before the delete. */
  learn?: boolean;
}

export interface Quarantine {
  readonly dir: string;
  readonly metrics: QuarantineMetrics;
  list(): Promise<HeldEntry[]>;
  show(id: string, opts?: { maxChars?: number }): Promise<HeldMessage>;
  release(id: string, opts: ActionOptions): Promise<ActionResult>;
  delete(id: string, opts: ActionOptions): Promise<ActionResult>;
  /** Removes held messages past retention; returns their ids. */
  expire(): Promise<string[]>;
}

function checkId(id: string): void {
  if (!isQueueId(id)) throw new QueueError(QueueErrorCodes.EINVAL, `not a queue id: ${JSON.stringify(id.slice(0, 64))}`);
}

function checkBy(by: unknown): string {
  if (typeof by !== 'string' || by.trim() === '') throw new QueueError(QueueErrorCodes.EINVAL, 'an action needs `by` (who does it)');
  return by.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 128);
}

export function openQuarantine(opts: QuarantineOptions): Quarantine {
  const dir = opts.dir;
  const doSync = opts.fsync !== false;
  const dirSync = createDirSyncer();
  const ctx: QuarantineContext = {
    dir,
    clock: opts.clock ?? systemClock,
    retention: opts.retentionMs ?? DEFAULT_RETENTION_MS,
    logger: opts.logger.child({ module: 'quarantine' }),
    metrics: quarantineMetrics(opts.registry),
    doSync,
    learner: opts.learner,
    syncDir: (d: string) => (doSync ? dirSync(d) : Promise.resolve()),
    held: heldPath(dir),
  };
  const { clock, retention, logger, metrics, held } = ctx;
  const locks = createLocks(dir, { logger });

  async function list(): Promise<HeldEntry[]> {
    let names: string[];
    try {
      names = await readdir(join(dir, 'hold'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    await locks.sweepLocks(names.filter((n) => n.startsWith('.')));
    names = names.filter((n) => !n.startsWith('.')).sort();
    const out: HeldEntry[] = [];
    for (const n of names) {
      const peek = await peekEnvelope(held(n), 16 * 1024);
      if (!peek) continue; // gone meanwhile
      // an operator's hold (moat queue hold) is the queue's business, not the quarantine's
      if (peek.envelope && !peek.envelope.hold) continue;
      const subject = peek.head ? subjectOf(peek.head) : undefined;
      out.push({ ...entryOf(n, peek.size, peek.envelope, retention), ...(subject !== undefined ? { subject } : {}) });
    }
    return out;
  }

  async function show(id: string, o: { maxChars?: number } = {}): Promise<HeldMessage> {
    checkId(id);
    const { envelope, message } = await loadHeld(ctx, id, 'show');
    if (!envelope.hold) throw notFound(id);
    const subject = subjectOf(message.subarray(0, 16 * 1024));
    return { ...entryOf(id, message.length, envelope, retention), ...(subject !== undefined ? { subject } : {}), preview: messagePreview(message, o.maxChars === undefined ? {} : { maxChars: o.maxChars }) };
  }

  async function release(id: string, o: ActionOptions): Promise<ActionResult> {
    checkId(id);
    const by = checkBy(o.by);
    if (o.learn && !opts.learner) throw new QueueError(QueueErrorCodes.EINVAL, 'cannot learn: no learner configured on this node');
    const { envelope, message } = await releaseHeld(ctx, locks, id, by);
    metrics.actions.inc({ action: 'release', result: 'ok' });
    logger.info({ event: 'quarantine-release', queueId: id, by, check: envelope.hold?.check, reason: envelope.hold?.reason, sender: envelope.sender, nrcpt: envelope.recipients.length }, 'released from quarantine');
    const result: ActionResult = { id, action: 'released' };
    if (o.learn) {
      const err = await learn(ctx, message, 'ham', id, by);
      if (err) result.learnError = err;
      else result.learned = 'ham';
    }
    return result;
  }

  async function del(id: string, o: ActionOptions): Promise<ActionResult> {
    checkId(id);
    const by = checkBy(o.by);
    if (o.learn && !opts.learner) throw new QueueError(QueueErrorCodes.EINVAL, 'cannot learn: no learner configured on this node');
    return removeHeld(ctx, locks, id, by, 'delete', o.learn === true);
  }

  async function expire(): Promise<string[]> {
    const now = clock.now();
    const gone: string[] = [];
    for (const e of await list()) {
      if (e.expires === undefined || e.expires > now) continue;
      // someone released it (a crash left the move undone, or `moat queue hold` held it again): never dropped
      // for age; the list shows it as release pending and a release finishes it
      if (e.releasePending) continue;
      try {
        await removeHeld(ctx, locks, e.id, 'retention', 'expire', false);
        gone.push(e.id);
      } catch (err) {
        // a damaged file went to corrupt/ (logged there); a busy one waits for the next run
        if ((err as QueueError).code !== QueueErrorCodes.ECORRUPT) logger.warn({ queueId: e.id, err: (err as Error).message }, 'quarantine expiry skipped a message');
      }
    }
    return gone;
  }

  return {
    dir,
    metrics,
    list,
    show,
    release,
    delete: del,
    expire,
  };
}
