// One quarantine action per held message at a time, across processes: lock files beside it in hold/.
// Trusts the host tag, pid and nonce it wrote itself; a lock it cannot judge is stale only when older than any action.
import { randomBytes } from 'node:crypto';
import { type FileHandle, link, open, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '@moat/observe';
import { QueueError, QueueErrorCodes } from '../errors.ts';
import { openIfExists } from '../reader.ts';
import { HOST_TAG, pidAlive, tmpName } from '../tmp-files.ts';

/** No quarantine action takes this long: an older lock is a dead writer's, whatever host wrote it. */
const LOCK_MAX_AGE_MS = 10 * 60_000;
/** A takeover (claim, read again, rename) takes milliseconds: an older claim of another host's is a dead one's. */
const CLAIM_MAX_AGE_MS = 60_000;
/** Claims tried per stale lock (each dead claimer's is passed over by claiming the next). */
const MAX_CLAIMS = 16;
/** A held lock's mtime is refreshed this often while its action runs, so that no long action's lock looks stale. */
const REFRESH_MS = LOCK_MAX_AGE_MS / 10;

export interface LocksOptions {
  /** How often a held lock is touched (tests shorten it); default a tenth of the stale age. */
  refreshMs?: number;
  /** Told when a stale lock cannot be taken over (every claim on it dead): that needs an operator. */
  logger?: Pick<Logger, 'warn'>;
}

export interface Locks {
  /** `fn` under the lock of held message `id`; EBUSY when another live action holds it. */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Locks and takeover claims left by killed actions (hold/ names starting with a dot): removed. */
  sweepLocks(names: string[]): Promise<void>;
}

/** A lock or claim file as read: `host pid nonce` (older moats wrote no nonce: then the inode stands for it). */
interface Seen {
  host: string;
  pid: number;
  /** Names this lock and no other, ever: the nonce, or (no nonce written) its inode and mtime. */
  key: string;
  ageMs: number;
}

/** The lock or claim at `path`, undefined when there is none; text and times from one open file (a rename between two lookups would pair two files). */
export async function readSeen(path: string): Promise<Seen | undefined> {
  const fh = await openIfExists(path);
  if (!fh) return undefined;
  try {
    return await seenOf(fh);
  } finally {
    await fh.close();
  }
}

/** What one open lock file says, text and age read from the same inode. */
async function seenOf(fh: FileHandle): Promise<Seen> {
  const st = await fh.stat();
  const text = await fh.readFile('utf8');
  const [host = '', pid = '', nonce] = text.trim().split(' ');
  return { host, pid: Number(pid), key: nonce && /^[0-9a-f]{16}$/.test(nonce) ? nonce : `i${st.ino}m${Math.floor(st.mtimeMs)}`, ageMs: Date.now() - st.mtimeMs };
}

const CLAIM = /^\.(.+)\.lock\.([0-9a-z]+)\.(\d+)\.claim$/;

export function createLocks(dir: string, opts: LocksOptions = {}): Locks {
  const lockPath = (id: string) => join(dir, 'hold', `.${id}.lock`);
  /** Nonces of the locks this process holds or is taking now. */
  const mine = new Set<string>();
  const busy = (id: string) => new QueueError(QueueErrorCodes.EBUSY, `${id}: another action on it is running; try again`);

  /** A lock file in tmp/ naming this process and a fresh nonce, to be linked or renamed into hold/. */
  async function writeTmp(id: string): Promise<{ tmp: string; nonce: string }> {
    const nonce = randomBytes(8).toString('hex');
    const tmp = join(dir, 'tmp', tmpName(id, `lock${nonce}`));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${HOST_TAG} ${process.pid} ${nonce}\n`);
    } finally {
      await fh.close();
    }
    return { tmp, nonce };
  }

  /**
   * A lock nobody holds: its writer on this host is dead, or is this very process without that lock (a
   * restarted container reuses small pids), or it is older than any action takes (a recreated container has
   * another host name).
   */
  const deadWriter = (s: Seen) => s.host === HOST_TAG && (!pidAlive(s.pid) || (s.pid === process.pid && !mine.has(s.key)));
  const stale = (s: Seen) => deadWriter(s) || s.ageMs > LOCK_MAX_AGE_MS;
  /** A claim's content is its claimer's new lock (`host pid nonce`): dead as a lock's writer is, or by its age. */
  const deadClaim = (c: Seen) => deadWriter(c) || c.ageMs > CLAIM_MAX_AGE_MS;

  /**
   * Takes the lock at `path` with the file `tmp` (its nonce in `mine`); false when another live action has it. The lock
   * appears with its writer already in it (linked from tmp/, EEXIST when taken). A stale lock is replaced so that
   * of many processes judging it stale at once exactly one wins: each claims the takeover with an exclusive link
   * named after the stale lock's key; only the claim's holder replaces the lock (by rename, never unlink then
   * link), and only after reading it again and finding the same key. A key is never written twice, so a claim
   * made after the replacement finds another key and backs off. A dead claimer's claim is passed over by
   * claiming the next number, never removed while its lock is there.
   */
  async function acquire(path: string, tmp: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, path);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const seen = await readSeen(path);
      if (seen === undefined) continue; // released meanwhile: link again
      if (!stale(seen)) return false;
      for (let n = 0; n < MAX_CLAIMS; n++) {
        const claim = `${path}.${seen.key}.${n}.claim`;
        try {
          await link(tmp, claim);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          const claimer = await readSeen(claim);
          // gone: its claimer finished (took the lock or backed off); alive: it is taking it now
          if (claimer === undefined || !deadClaim(claimer)) return false;
          if (n === MAX_CLAIMS - 1) stuck(path, seen.key);
          continue;
        }
        try {
          if ((await readSeen(path))?.key !== seen.key) return false;
          await rename(tmp, path);
          return true;
        } finally {
          await unlink(claim).catch(() => undefined);
        }
      }
      return false;
    }
    return false;
  }

  /**
   * Every claim on a stale lock is a dead claimer's: nobody can take the lock over, and the sweep keeps the claims
   * while the lock is there (removing a dead claim is not safe: a live taker may be claiming that number anew).
   * The remedy is an operator's (docs/operations.md): remove the lock; the next listing sweeps the claims.
   */
  function stuck(path: string, key: string): void {
    const claims = Array.from({ length: MAX_CLAIMS }, (_, n) => `${basename(path)}.${key}.${n}.claim`);
    opts.logger?.warn(
      { event: 'quarantine-lock-stuck', lock: path, claims },
      `stale lock ${path} cannot be taken over: all ${MAX_CLAIMS} takeover claims are dead; with no quarantine action on it running, remove the lock (the listing then removes the claims)`,
    );
  }

  /**
   * Removes the lock at `path` if it is still the one with `nonce` (a takeover may have replaced a lock judged stale).
   * The nonce leaves `mine` only once the lock is gone: until then another action of this process on the same id
   * must find the lock live, or it would judge it stale (our pid, nonce not ours), take it over, and this unlink
   * would remove the new owner's lock.
   */
  async function release(path: string, nonce: string): Promise<void> {
    try {
      if ((await readSeen(path).catch(() => undefined))?.key === nonce) await unlink(path).catch(() => undefined);
    } finally {
      mine.delete(nonce);
    }
  }

  /**
   * Sets the lock's mtime to now if it is still the one with `nonce`: read and touched through one descriptor, so a
   * lock another process renamed into place meanwhile is never the one touched (its inode is not ours).
   */
  async function touch(path: string, nonce: string): Promise<void> {
    const fh = await openIfExists(path).catch(() => undefined);
    if (!fh) return;
    try {
      if ((await seenOf(fh)).key !== nonce) return;
      const now = new Date();
      await fh.utimes(now, now);
    } catch {
      // unreadable or gone: nothing of ours to refresh
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** Takes the lock (or throws EBUSY) and returns its nonce. */
  async function lock(id: string): Promise<string> {
    const path = lockPath(id);
    const { tmp, nonce } = await writeTmp(id);
    mine.add(nonce);
    let won = false;
    try {
      won = await acquire(path, tmp);
    } finally {
      if (!won) mine.delete(nonce);
      await unlink(tmp).catch(() => undefined);
    }
    if (!won) throw busy(id);
    return nonce;
  }

  /**
   * One action per held message at a time, across processes (the mx's HTTP listener, a CLI on the spool): a
   * lock file beside it names its writer; a dead writer's lock is taken over. hold/ names starting with a dot
   * are no messages (the spool's readers skip them).
   */
  async function withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const path = lockPath(id);
    const nonce = await lock(id);
    // refreshed while the action runs: a lock is stale by age only once its holder stopped touching it
    let touching = Promise.resolve();
    const timer = setInterval(() => {
      touching = touching.then(() => touch(path, nonce));
    }, opts.refreshMs ?? REFRESH_MS);
    timer.unref();
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await touching;
      await release(path, nonce);
    }
  }

  async function sweepLocks(names: string[]): Promise<void> {
    for (const n of names) {
      const claim = CLAIM.exec(n);
      if (claim) {
        // a claim whose lock was replaced or removed can never succeed: safe to remove, whoever wrote it; a lock
        // that cannot be read (EMFILE, EACCES) may still be there: its claims stay until a later sweep
        let lockNow: Seen | undefined;
        try {
          lockNow = await readSeen(lockPath(claim[1] as string));
        } catch {
          continue;
        }
        if (lockNow?.key !== claim[2]) await unlink(join(dir, 'hold', n)).catch(() => undefined);
        continue;
      }
      if (!n.startsWith('.') || !n.endsWith('.lock')) continue;
      const id = n.slice(1, -'.lock'.length);
      const seen = await readSeen(lockPath(id)).catch(() => undefined);
      if (seen === undefined || !stale(seen)) continue;
      // taken over as an action would (never unlinked under a concurrent taker), then let go
      const nonce = await lock(id).catch(() => undefined);
      if (nonce !== undefined) await release(lockPath(id), nonce);
    }
  }

  return { withLock, sweepLocks };
}
