// Durability helpers: fsync a file's data and a directory's entries, with group commit for directories.
// Trusts the kernel's fsync; nothing else.
import { open } from 'node:fs/promises';

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

/**
 * Group commit: a caller whose rename finished before a sync started is covered by that sync; callers
 * that arrive while one runs share the next one. Many concurrent enqueues then cost one fsync each round.
 */
export function createDirSyncer(): (dir: string) => Promise<void> {
  const states = new Map<string, DirSyncState>();
  return (dir: string) => {
    let s = states.get(dir);
    if (!s) {
      s = { running: null, next: null };
      states.set(dir, s);
    }
    const st = s;
    if (!st.running) {
      st.running = fsyncPath(dir).finally(() => {
        st.running = null;
      });
      return st.running;
    }
    if (!st.next) {
      const after = st.running.catch(() => undefined);
      st.next = after.then(() => {
        st.next = null;
        st.running = fsyncPath(dir).finally(() => {
          st.running = null;
        });
        return st.running;
      });
    }
    return st.next;
  };
}

export const syncDir = createDirSyncer();
