// The quarantine's actions on one held message: release into incoming/, delete or expire, and learning.
// `by` is whoever the caller authenticated; the learner (spamd) may fail, and a failure never loses the message.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { encode, type Envelope } from '../record.ts';
import { tmpName } from '../tmp-files.ts';
import type { QuarantineContext } from './context.ts';
import { loadHeld, notFound } from './held-file.ts';
import type { Locks } from './lock.ts';

export interface ActionResult {
  id: string;
  action: 'released' | 'deleted';
  /** When learning was asked: `ham`/`spam` when taught, or the learner's error (the release stands). */
  learned?: 'ham' | 'spam' | undefined;
  learnError?: string | undefined;
}

/** Teach the learner; its error as text (logged and counted), or undefined when taught. */
export async function learn(ctx: QuarantineContext, message: Buffer, as: 'spam' | 'ham', id: string, by: string): Promise<string | undefined> {
  const { metrics, logger } = ctx;
  if (!ctx.learner) return 'no learner configured on this node';
  try {
    await ctx.learner(message, as);
    metrics.learned.inc({ as, result: 'ok' });
    logger.info({ event: 'quarantine-learn', queueId: id, as, by }, `learned as ${as}`);
    return undefined;
  } catch (e) {
    metrics.learned.inc({ as, result: 'error' });
    const err = (e as Error)?.message ?? String(e);
    logger.error({ event: 'quarantine-learn', queueId: id, as, by, err }, 'learning failed');
    return err;
  }
}

/** Under its lock: the held message stamped released and moved into incoming/; returns it as it was read. */
export function releaseHeld(ctx: QuarantineContext, locks: Locks, id: string, by: string): Promise<{ envelope: Envelope; message: Buffer }> {
  const { dir, clock, doSync, held, syncDir } = ctx;
  return locks.withLock(id, async () => {
    const d = await loadHeld(ctx, id, 'release', by);
    if (!d.envelope.hold) throw notFound(id);
    // Rewrite in place with the release stamped (the queue lifetime counts from it), then move into
    // incoming/: a crash between the two leaves it held with "release pending", never delivered twice.
    d.envelope.released = { by, time: clock.now() };
    const tmp = join(dir, 'tmp', tmpName(id, `q${randomBytes(4).toString('hex')}`));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(encode(d.envelope, d.message));
      if (doSync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, held(id));
    await syncDir(join(dir, 'hold'));
    await rename(held(id), join(dir, 'incoming', id));
    await syncDir(join(dir, 'incoming'));
    await syncDir(join(dir, 'hold'));
    return d;
  });
}

/** Under its lock: the held message removed (delete, or expiry), learned as spam first when asked. */
export function removeHeld(ctx: QuarantineContext, locks: Locks, id: string, by: string, action: 'delete' | 'expire', learnSpam: boolean): Promise<ActionResult> {
  const { dir, held, syncDir, metrics, logger } = ctx;
  return locks.withLock(id, async () => {
    const { envelope, message } = await loadHeld(ctx, id, action, by);
    if (!envelope.hold) throw notFound(id);
    const result: ActionResult = { id, action: 'deleted' };
    if (learnSpam) {
      // learned before the delete: afterwards the bytes are gone. A failed learning keeps the message.
      const err = await learn(ctx, message, 'spam', id, by);
      if (err) throw new QueueError(QueueErrorCodes.EINVAL, `${id}: learning as spam failed, not deleted: ${err}`);
      result.learned = 'spam';
    }
    await unlink(held(id));
    await syncDir(join(dir, 'hold'));
    metrics.actions.inc({ action, result: 'ok' });
    const facts = { queueId: id, by, check: envelope.hold.check, reason: envelope.hold.reason, sender: envelope.sender, heldAt: envelope.hold.time };
    if (action === 'expire') metrics.expired.inc();
    logger.info({ event: `quarantine-${action}`, ...facts }, action === 'expire' ? 'expired from quarantine (retention)' : 'deleted from quarantine');
    return result;
  });
}
