// Queue files this spool has just written, kept in memory for their first claim: the runner takes the message it
// adopted a moment ago without reopening, re-reading and re-hashing the file. Trusts its entries only while the
// file on disk is still the one written (device, inode, size, mtime, birth time): every rewrite makes a new file.

/** What the queue file held when it became durable, and which file that was. */
export interface FreshFile {
  /** The envelope JSON as written (decode parses the same text). */
  json: string;
  message: Buffer;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  birthtimeMs: number;
}

export interface FreshFiles {
  put(id: string, f: FreshFile): void;
  /** The entry, removed: a queue file is served from memory at most once. */
  take(id: string): FreshFile | undefined;
  /** The file's size when it has an entry (the runner's memory budget, without a stat). */
  size(id: string): number | undefined;
  /** Forget everything (the spool is closed). */
  clear(): void;
}

/** Bounded by bytes held, counted in UTF-8 bytes (oldest dropped first): a runner that falls behind reads from disk. */
export function freshFiles(maxBytes = 8 * 1024 * 1024): FreshFiles {
  const map = new Map<string, FreshFile>();
  let bytes = 0;
  const held = (f: FreshFile) => f.message.length + Buffer.byteLength(f.json, 'utf8');
  const drop = (id: string, f: FreshFile) => {
    map.delete(id);
    bytes -= held(f);
  };
  return {
    put(id, f) {
      const old = map.get(id);
      if (old) drop(id, old);
      const size = held(f);
      if (size > maxBytes) return;
      map.set(id, f);
      bytes += size;
      for (const [oid, of] of map) {
        if (bytes <= maxBytes) break;
        drop(oid, of);
      }
    },
    size: (id) => map.get(id)?.size,
    clear() {
      map.clear();
      bytes = 0;
    },
    take(id) {
      const f = map.get(id);
      if (f) drop(id, f);
      return f;
    },
  };
}
