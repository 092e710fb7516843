// Replacing a file atomically: write a temporary file beside it, fsync, rename over, fsync the directory.
// Trusts the caller's path; an explicit mode always wins (a key is 0600 after every write), else the replaced
// file's mode is kept; the replaced file's owner is always kept (the MX reads the users file as its own user).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chown, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

async function resolve(path: string): Promise<string> {
  try {
    // a symlinked file (a mounted secret, a config map) is replaced where it really lives
    return await realpath(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return path;
    throw e;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, constants.O_RDONLY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Makes `dir` and its missing parents; each new one's entry is fsynced in its parent, so a crash cannot lose it. */
async function makeDir(dir: string, mode: number): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode });
  if (first === undefined) return;
  const made: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    made.push(d);
    if (d === first || dirname(d) === d) break;
  }
  for (const d of made.reverse()) await fsyncDir(dirname(d));
}

const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;
/** A temp file older than this whose writer is gone is a crash's leftover (a write takes milliseconds). */
const STALE_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: someone else's live process
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes this file's temp files left by a crashed write: its pid dead here and a minute old (a writer in
 * another pid namespace sharing the directory is not seen as dead while it writes). Best effort: never fails the write.
 */
async function removeLeftovers(dir: string, name: string): Promise<void> {
  try {
    for (const entry of await readdir(dir)) {
      const m = TEMP.exec(entry);
      if (!m || m[1] !== name) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || alive(pid)) continue;
      const st = await stat(join(dir, entry));
      if (Date.now() - st.mtimeMs > STALE_MS) await unlink(join(dir, entry));
    }
  } catch {
    // a leftover is only clutter; the next write tries again
  }
}

/**
 * Writes `data` to `path` so that a reader sees the old file or the new one, never a mix, and a crash
 * leaves one of the two. `mode` given: the file gets exactly that mode, new or replaced (a 0644 key left by
 * hand becomes 0600 again). No `mode`: a new file is 0600, a replaced one keeps its mode (the users file an
 * admin made 0640). A new file gets its directory's owner, a replaced one keeps its owner (a 0600 key stays
 * readable by whoever reads it). `dirMode`: the directory (and its parents) is created first with that mode,
 * each new one fsynced in its parent. A crash's leftover temp file (`.NAME.PID.HEX.tmp`) is removed by the
 * next write of NAME once its writer is dead.
 */
export async function writeFileAtomic(path: string, data: string, opts: { mode?: number; dirMode?: number } = {}): Promise<void> {
  const target = await resolve(path);
  const dir = dirname(target);
  if (opts.dirMode !== undefined) await makeDir(dir, opts.dirMode);
  let mode = opts.mode ?? 0o600;
  let owner: { uid: number; gid: number } | undefined;
  try {
    const st = await stat(target);
    if (opts.mode === undefined) mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // a new file belongs to whoever owns its directory (root creating the MX's users file in the MX's
    // directory must not leave it unreadable to the MX)
    const st = await stat(dir);
    owner = { uid: st.uid, gid: st.gid };
  }
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data, 'utf8');
    await fh.chmod(mode);
    if (owner && (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.())) {
      // only root may give a file away; anyone else keeps it as their own (the usual case: their own file)
      await chown(tmp, owner.uid, owner.gid).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPERM' || process.getuid?.() === 0) throw e;
      });
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
  await removeLeftovers(dir, basename(target));
}

/**
 * Runs `body` holding `path.lock` (created exclusively), so two `moat user` runs cannot lose each other's edit.
 * A lock older than a minute is a crashed run's and is taken over.
 */
export async function withFileLock<T>(path: string, body: () => Promise<T>): Promise<T> {
  const lock = `${await resolve(path)}.lock`;
  for (let i = 0; ; i++) {
    try {
      const fh = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await rm(lock, { force: true });
      else if (i >= 50) throw new Error(`${lock} is held by another run (remove it if none is running)`);
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await body();
  } finally {
    await rm(lock, { force: true });
  }
}
