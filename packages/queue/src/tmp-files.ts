// Names of files still being written (spool tmp/, maildir tmp/) and the start-up sweep of dead writers' leftovers.
// Trusts the pid and host in a name it wrote itself; a name it cannot read is judged by age only.
import { hostname } from 'node:os';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * This host in file names: os.hostname() cut to letters, digits and dashes. Pids mean something only on the
 * host (and pid namespace) that made them: a spool shared by two containers holds names from both.
 */
export const HOST_TAG = hostname().replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40) || 'host';

/** `<id>.<host>.<pid>` plus an optional suffix: the writer is named in the file name. */
export function tmpName(id: string, suffix?: string): string {
  return `${id}.${HOST_TAG}.${process.pid}${suffix ? `.${suffix}` : ''}`;
}

/** The writer a tmpName() names, or undefined for any other name. */
export function writerOf(name: string): { host: string; pid: number } | undefined {
  const m = /^[^.]+\.([A-Za-z0-9-]+)\.(\d{1,10})(?:\.|$)/.exec(name);
  return m ? { host: m[1]!, pid: Number(m[2]) } : undefined;
}

/** Is process `pid` alive on this host? EPERM means it exists (another user's). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SweepOptions {
  /** Who wrote a name (host, pid), or undefined when the name does not say. */
  writer: (name: string) => { host: string; pid: number } | undefined;
  /** Files whose writer cannot be judged (other host, unknown name) go only after this age. Default 1 h. */
  maxAgeMs?: number;
  now?: number;
}

/**
 * Removes the files of dead transactions from a tmp/ directory, as Postfix's cleanup/postsuper do with
 * their pid-named temporary files: a file is removed when its writer is on this host and its pid is not
 * alive. A live pid (this process included, and a reused pid) keeps its file: a crash recovery must never
 * delete a file a live process still writes; a reused pid only delays the removal to a later start. Names
 * from another host, or without a writer, fall back to the age rule. Returns the names removed.
 */
export async function sweepTmp(dir: string, opts: SweepOptions): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const now = opts.now ?? Date.now();
  const maxAge = opts.maxAgeMs ?? 3600_000;
  const removed: string[] = [];
  for (const n of names) {
    const w = opts.writer(n);
    let dead: boolean;
    if (w && w.host === HOST_TAG) dead = !pidAlive(w.pid);
    else {
      try {
        dead = now - (await stat(join(dir, n))).mtimeMs > maxAge;
      } catch {
        continue;
      }
    }
    if (!dead) continue;
    try {
      await unlink(join(dir, n));
      removed.push(n);
    } catch {
      /* gone meanwhile, or a directory: not ours */
    }
  }
  return removed;
}
