// The operator's commands on the spool (postqueue -f, postsuper -h/-H/-d): flush, hold, release, delete by id.
// Trusts ids only after they parse as queue ids; never touches what the quarantine holds or an active delivery.
import { readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { isQueueId } from '../ids.ts';
import { decode } from '../record.ts';
import type { QueueState } from '../types.ts';
import type { SpoolContext } from './context.ts';

function checkIds(ids: string[]): void {
  for (const id of ids) if (!isQueueId(id)) throw new QueueError(QueueErrorCodes.EINVAL, `not a queue id: ${id}`);
}

export function operatorOps(ctx: SpoolContext) {
  const { dir, logger, p, syncDir, names } = ctx;

  async function flush(ids?: string[]): Promise<number> {
    if (ids) checkIds(ids);
    // The epoch, not "now": due for every runner whatever its clock (another process, a test clock).
    let n = 0;
    for (const id of ids ?? (await names('deferred'))) {
      try {
        await utimes(p('deferred', id), 0, 0);
        n++;
      } catch {
        /* not deferred (any more) */
      }
    }
    logger.info({ count: n }, 'flush: deferred messages made due');
    return n;
  }

  /**
   * A quarantined message (a hold record, not released) or one the quarantine is acting on (its lock) is the
   * quarantine's: `moat queue release|delete ALL` must not deliver or drop it behind its back (use `moat
   * quarantine`). A file that cannot be read as a queue file is left to the usual handling.
   */
  async function quarantined(id: string): Promise<boolean> {
    try {
      await stat(join(dir, 'hold', `.${id}.lock`));
      return true;
    } catch {
      // no action of the quarantine's under way
    }
    try {
      const { envelope } = decode(await readFile(p('hold', id)));
      return envelope.hold !== undefined && envelope.released === undefined;
    } catch {
      return false;
    }
  }

  async function moveAny(ids: string[], from: QueueState[], to: QueueState, verb: string): Promise<string[]> {
    checkIds(ids);
    const done: string[] = [];
    for (const id of ids) {
      for (const s of from) {
        try {
          if (s === 'hold' && (await quarantined(id))) {
            logger.warn({ queueId: id, event: 'quarantined-skipped' }, 'in the quarantine: not released (moat quarantine release)');
            break;
          }
          await rename(p(s, id), p(to, id));
          if (to === 'deferred') await utimes(p(to, id), 0, 0); // due now, as after flush
          await syncDir(p(to));
          done.push(id);
          logger.info({ queueId: id, from: s, to }, verb);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    }
    return done;
  }

  async function del(ids: string[]): Promise<string[]> {
    checkIds(ids);
    const done: string[] = [];
    for (const id of ids) {
      for (const s of ['incoming', 'deferred', 'hold'] as const) {
        try {
          if (s === 'hold' && (await quarantined(id))) {
            logger.warn({ queueId: id, event: 'quarantined-skipped' }, 'in the quarantine: not deleted (moat quarantine delete)');
            break;
          }
          await unlink(p(s, id));
          await syncDir(p(s));
          done.push(id);
          logger.info({ queueId: id, state: s }, 'deleted by operator');
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      if (!done.includes(id)) {
        const corrupt = (await names('corrupt')).filter((n) => n.startsWith(`${id}.`) || n === id);
        for (const n of corrupt) await unlink(p('corrupt', n)).catch(() => undefined);
        if (corrupt.length) {
          done.push(id);
          logger.info({ queueId: id, state: 'corrupt' }, 'deleted by operator');
        } else if ((await names('active')).some((n) => n.startsWith(`${id}.`))) {
          throw new QueueError(QueueErrorCodes.EBUSY, `${id} is being delivered; try again`);
        }
      }
    }
    return done;
  }

  return {
    flush,
    hold: (ids: string[]) => moveAny(ids, ['incoming', 'deferred'], 'hold', 'held by operator'),
    release: (ids: string[]) => moveAny(ids, ['hold'], 'deferred', 'released by operator'),
    delete: del,
  };
}
