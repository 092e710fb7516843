// Claims in active/ and whose they are: owner tags, the heartbeat file, and the recovery of a dead runner's files.
// Trusts /proc and kill(0) on this host for liveness, the heartbeat's mtime for runners it cannot judge otherwise.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readdir, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@moat/observe';
import type { Queue } from '../spool.ts';
import { pidAlive } from '../tmp-files.ts';

/** Owner tags of the runners alive in this thread (several may share a spool, e.g. in tests). */
const liveOwners = new Set<string>();

const HEARTBEAT_MS = 30_000;
const OWNER_STALE_MS = 5 * 60_000;

/**
 * When a process started (clock ticks since boot, /proc/<pid>/stat field 22), shared by all its threads:
 * tells an earlier life of a reused pid from a live process. null where /proc is missing.
 */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const myStart = processStart(process.pid);

/** A new runner's claim tag, pid-start-random: the pid and its start time say whether the owner still lives, the random part which runner. */
export function newOwner(): string {
  return `${process.pid}-${myStart ?? 0}-${randomBytes(4).toString('hex')}`;
}

/** A runner's hold on its active/ files: the heartbeat file other runners look at, and the recovery of dead runners' files. */
export interface OwnerLease {
  /** Files in active/ whose runner is gone (crash) go back to incoming/. */
  recover(): Promise<void>;
  /** Stop the heartbeat and give the lease up (after the last delivery finished). */
  release(): Promise<void>;
  /** Stop the heartbeat timer (stop() begins). */
  stopBeat(): void;
}

/** Heartbeat: other runners on this spool leave our active/ files alone while it is fresh and we live. */
export async function takeLease(queue: Queue, owner: string, log: Logger): Promise<OwnerLease> {
  const activeDir = join(queue.dir, 'active');
  const heartbeat = join(activeDir, `.owner.${owner}`);
  liveOwners.add(owner);
  await (await open(heartbeat, 'w', 0o600)).close();
  const beat = setInterval(() => {
    const t = Date.now() / 1000;
    utimes(heartbeat, t, t).catch(() => undefined);
    recover().catch((e) => log.error({ err: (e as Error).message }, 'recovery failed'));
  }, HEARTBEAT_MS);
  beat.unref();

  async function recover(): Promise<void> {
    const names = await readdir(activeDir);
    const alive = new Map<string, boolean>();
    const isAlive = async (o: string): Promise<boolean> => {
      if (o === owner) return true;
      const cached = alive.get(o);
      if (cached !== undefined) return cached;
      let ok = false;
      const m = /^(\d+)-(?:(\d+)-)?[0-9a-f]+$/.exec(o);
      const pid = Number(m?.[1] ?? Number.NaN);
      const start = m?.[2];
      if (liveOwners.has(o)) ok = true;
      else if (pid === process.pid && start !== undefined && myStart !== null && start !== myStart) {
        ok = false; // an earlier life of this pid (a restarted container's pid 1)
      } else if (Number.isFinite(pid) && pidAlive(pid)) {
        const now = start !== undefined && start !== '0' ? processStart(pid) : null;
        if (now !== null && now !== start) ok = false; // the pid was reused by another process
        else {
          try {
            ok = Date.now() - (await stat(join(activeDir, `.owner.${o}`))).mtimeMs < OWNER_STALE_MS;
          } catch {
            ok = false;
          }
        }
      }
      alive.set(o, ok);
      return ok;
    };
    for (const n of names) {
      if (n.startsWith('.owner.')) {
        const o = n.slice('.owner.'.length);
        if (!(await isAlive(o))) await unlink(join(activeDir, n)).catch(() => undefined);
        continue;
      }
      if (n.startsWith('.')) continue;
      const o = n.slice(n.indexOf('.') + 1);
      if (n.indexOf('.') < 0 || !(await isAlive(o))) {
        try {
          await queue.unclaim(n);
          log.warn({ queueId: n.split('.')[0], owner: o }, 'recovered message left in active/ by a dead runner');
        } catch {
          /* another runner recovered it first */
        }
      }
    }
  }

  return {
    recover,
    stopBeat: () => clearInterval(beat),
    async release() {
      await unlink(heartbeat).catch(() => undefined);
      liveOwners.delete(owner);
    },
  };
}
