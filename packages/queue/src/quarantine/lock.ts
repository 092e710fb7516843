// One quarantine action per held message at a time, across processes: lock files beside it in hold/.
// Trusts the host tag and pid it wrote itself; a lock it cannot judge is stale only when older than any action.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { HOST_TAG, pidAlive, tmpName } from '../tmp-files.ts';

/** No quarantine action takes this long: an older lock is a dead writer's, whatever host wrote it. */
const LOCK_MAX_AGE_MS = 10 * 60_000;

export interface Locks {
  /** `fn` under the lock of held message `id`; EBUSY when another live action holds it. */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Locks left by a killed action: removed, as the spool's tmp/ sweep does. */
  sweepLocks(locks: string[]): Promise<void>;
}

export function createLocks(dir: string): Locks {
  const lockPath = (id: string) => join(dir, 'hold', `.${id}.lock`);
  /** The ids this process is acting on now (its own locks). */
  const mine = new Set<string>();

  /**
   * The lock appears with its writer already in it: written in tmp/ and linked into hold/ (EEXIST when taken).
   * Created empty and written after, a writer killed in between left a lock naming nobody, which only its
   * age could clear. A killed writer's tmp/ file is removed by the spool's start-up sweep.
   */
  async function createLock(path: string, id: string): Promise<void> {
    const tmp = join(dir, 'tmp', tmpName(id, `lock${randomBytes(4).toString('hex')}`));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${HOST_TAG} ${process.pid}\n`);
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * One action per held message at a time, across processes (the mx's HTTP listener, a CLI on the spool): a
   * lock file beside it names its writer; a dead writer's lock is taken over. hold/ names starting with a dot
   * are no messages (the spool's readers skip them).
   */
  async function withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const path = lockPath(id);
    for (let attempt = 0; ; attempt++) {
      try {
        await createLock(path, id);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new QueueError(QueueErrorCodes.EBUSY, `${id}: another action on it is running; try again`);
          throw e;
        }
        if (await stale(path, id)) await unlink(path).catch(() => undefined);
        else throw new QueueError(QueueErrorCodes.EBUSY, `${id}: another action on it is running; try again`);
      }
    }
    mine.add(id);
    try {
      return await fn();
    } finally {
      mine.delete(id);
      await unlink(path).catch(() => undefined);
    }
  }

  /**
   * A lock nobody holds: its writer on this host is dead, or is this very process without the action (a
   * restarted container reuses small pids), or it is older than any action takes (a recreated container has
   * another host name).
   */
  async function stale(path: string, id: string | undefined): Promise<boolean> {
    const [host, pid] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
    if (host === HOST_TAG && (!pidAlive(Number(pid)) || (Number(pid) === process.pid && (id === undefined || !mine.has(id))))) return true;
    const age = await stat(path).then((st) => Date.now() - st.mtimeMs, () => 0);
    return age > LOCK_MAX_AGE_MS;
  }

  async function sweepLocks(locks: string[]): Promise<void> {
    for (const n of locks) {
      const id = n.slice(1, -'.lock'.length);
      if (await stale(join(dir, 'hold', n), id)) await unlink(join(dir, 'hold', n)).catch(() => undefined);
    }
  }

  return { withLock, sweepLocks };
}
