// The few file calls adoption makes, done inline (synchronous, on the calling thread) or through libuv's thread
// pool. Trusts the local spool's file system to answer page-cache reads, writes and metadata calls in microseconds.
import { fstatSync, fsync, linkSync, openSync, readSync, type Stats, closeSync, writeSync } from 'node:fs';
import { type FileHandle, link, open } from 'node:fs/promises';

/** An open queue file: positional reads and writes, stat, fsync, close. */
export interface SpoolFile {
  stat(): Promise<Stats>;
  read(buf: Buffer, off: number, len: number, pos: number): Promise<number>;
  write(buf: Buffer, off: number, len: number, pos: number): Promise<number>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

function pooled(fh: FileHandle): SpoolFile {
  return {
    stat: () => fh.stat(),
    read: async (buf, off, len, pos) => (await fh.read(buf, off, len, pos)).bytesRead,
    write: async (buf, off, len, pos) => (await fh.write(buf, off, len, pos)).bytesWritten,
    sync: () => fh.sync(),
    close: () => fh.close(),
  };
}

/**
 * Inline: every call but fsync runs on this thread, without a thread-pool round trip (two eventfd syscalls, a
 * wake-up and a promise each). For the delivery thread, which has nothing else to serve meanwhile; fsync, the
 * one call that waits for the disk, still goes to the pool.
 */
function inline(fd: number): SpoolFile {
  let closed = false;
  return {
    stat: async () => fstatSync(fd),
    read: async (buf, off, len, pos) => readSync(fd, buf, off, len, pos),
    write: async (buf, off, len, pos) => writeSync(fd, buf, off, len, pos),
    sync: () => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve()))),
    close: async () => {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

export async function openSpoolFile(path: string, flags: string, inlineIo: boolean): Promise<SpoolFile> {
  return inlineIo ? inline(openSync(path, flags)) : pooled(await open(path, flags));
}

export async function linkSpoolFile(from: string, to: string, inlineIo: boolean): Promise<void> {
  if (inlineIo) linkSync(from, to);
  else await link(from, to);
}
