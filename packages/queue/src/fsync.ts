// Durability helpers: fsync a file's data and a directory's entries, with group commit for directories.
// Trusts the kernel's fsync; nothing else.
import { type FileHandle, open } from 'node:fs/promises';

/** fsync a file, or a directory so a rename or create inside it survives a crash (no group commit). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

interface DirSyncState {
  running: Promise<void> | null;
  next: Promise<void> | null;
}

/** A directory syncer: group commit per directory; `close` lets go of the directories it keeps open. */
export interface DirSyncer {
  (dir: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Group commit: a caller whose rename finished before a sync started is covered by that sync; callers
 * that arrive while one runs share the next one. Many concurrent enqueues then cost one fsync each round.
 * `keepOpen`: each directory is opened once and its handle kept (the spool's few state directories: an open
 * and a close less per sync); fsync through any descriptor of a directory flushes its entries. A handle
 * whose fsync fails is closed and the next sync opens the directory again.
 */
export function createDirSyncer(opts: { keepOpen?: boolean } = {}): DirSyncer {
  const states = new Map<string, DirSyncState>();
  const handles = new Map<string, Promise<FileHandle>>();
  let closed = false;
  const syncOnce = async (dir: string): Promise<void> => {
    // after close() nothing is kept open any more (a late sync must not leak a handle)
    if (!opts.keepOpen || closed) return fsyncPath(dir);
    let h = handles.get(dir);
    if (!h) {
      h = open(dir, 'r');
      handles.set(dir, h);
      h.catch(() => handles.delete(dir));
    }
    const fh = await h;
    try {
      await fh.sync();
    } catch (e) {
      if (handles.get(dir) === h) handles.delete(dir);
      await fh.close().catch(() => undefined);
      throw e;
    }
  };
  const sync = (dir: string) => {
    let s = states.get(dir);
    if (!s) {
      s = { running: null, next: null };
      states.set(dir, s);
    }
    const st = s;
    if (!st.running) {
      st.running = syncOnce(dir).finally(() => {
        st.running = null;
      });
      return st.running;
    }
    if (!st.next) {
      const after = st.running.catch(() => undefined);
      st.next = after.then(() => {
        st.next = null;
        st.running = syncOnce(dir).finally(() => {
          st.running = null;
        });
        return st.running;
      });
    }
    return st.next;
  };
  return Object.assign(sync, {
    async close() {
      closed = true;
      const hs = [...handles.values()];
      handles.clear();
      await Promise.all(hs.map((h) => h.then((fh) => fh.close()).catch(() => undefined)));
    },
  });
}

export const syncDir = createDirSyncer();
