// A message's life in delivery: due retries found, claimed by rename into active/, rewritten, deferred, finished,
// given back, or moved to corrupt/. Trusts a file only after decode() verified its END record and checksum.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { CorruptQueueFile, type Envelope, decode, encode } from '../record.ts';
import { tmpName } from '../tmp-files.ts';
import type { QueueState } from '../types.ts';
import type { SpoolContext } from './context.ts';

/** A message claimed for delivery: it sits in active/ under a name only its owner uses. */
export interface Claimed {
  id: string;
  path: string;
  envelope: Envelope;
  message: Buffer;
}

export function activeOps(ctx: SpoolContext) {
  const { logger, metrics, doSync, p, syncDir, names, fresh } = ctx;

  /** The claimed file as this spool wrote it moments ago, when it is still that file (fresh.ts); else undefined. */
  async function fromMemory(id: string, path: string): Promise<Claimed | undefined> {
    const f = fresh.take(id);
    if (!f) return undefined;
    try {
      const st = await stat(path);
      if (st.dev !== f.dev || st.ino !== f.ino || st.size !== f.size || st.mtimeMs !== f.mtimeMs || st.birthtimeMs !== f.birthtimeMs) return undefined;
      const envelope = JSON.parse(f.json) as Envelope;
      return envelope.id === id ? { id, path, envelope, message: f.message } : undefined;
    } catch {
      return undefined;
    }
  }

  async function writeDurable(path: string, data: Buffer, mtimeMs?: number): Promise<void> {
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      if (mtimeMs !== undefined) await fh.utimes(mtimeMs / 1000, mtimeMs / 1000);
      if (doSync) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function moveToCorrupt(state: QueueState, name: string, reason: string): Promise<void> {
    const base = name.split('.')[0] ?? name;
    try {
      await rename(p(state, name), p('corrupt', `${base}.${randomBytes(3).toString('hex')}`));
      await syncDir(p('corrupt'));
      metrics.corrupt.inc();
      logger.error({ file: name, state, reason }, 'corrupt queue file moved to corrupt/');
    } catch (e) {
      logger.error({ file: name, state, reason, err: (e as Error).message }, 'could not move corrupt queue file');
    }
  }

  async function claim(from: 'incoming' | 'deferred', id: string, owner: string): Promise<Claimed | null> {
    const activeName = `${id}.${owner}`;
    try {
      await rename(p(from, id), p('active', activeName));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // someone else won
      throw e;
    }
    // No fsync here: after a crash, a file in active/ goes back to incoming/ anyway.
    // only a claim from incoming/ (the adopted file's first): a file in deferred/ was rewritten since, read it
    const mem = from === 'incoming' ? await fromMemory(id, p('active', activeName)) : undefined;
    if (mem) return mem;
    let buf: Buffer;
    try {
      buf = await readFile(p('active', activeName));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EISDIR') {
        await moveToCorrupt('active', activeName, 'not a file');
        return null;
      }
      logger.error({ queueId: id, err: (e as Error).message }, 'cannot read claimed queue file');
      await unclaim(activeName);
      return null;
    }
    try {
      const { envelope, message } = decode(buf);
      if (envelope.id !== id) throw new CorruptQueueFile('id does not match file name');
      return { id, path: p('active', activeName), envelope, message };
    } catch (e) {
      await moveToCorrupt('active', activeName, (e as Error).message);
      return null;
    }
  }

  async function update(c: Claimed): Promise<void> {
    const tmp = p('tmp', tmpName(c.id, randomBytes(4).toString('hex')));
    await writeDurable(tmp, encode(c.envelope, c.message));
    await rename(tmp, c.path);
    await syncDir(p('active'));
  }

  async function defer(c: Claimed, nextRetry: number): Promise<void> {
    c.envelope.nextRetry = nextRetry;
    const tmp = p('tmp', tmpName(c.id, randomBytes(4).toString('hex')));
    await writeDurable(tmp, encode(c.envelope, c.message), nextRetry);
    // Replace the active file atomically, then move it: there is never a moment with two copies.
    await rename(tmp, c.path);
    await rename(c.path, p('deferred', c.id));
    await syncDir(p('deferred'));
    await syncDir(p('active'));
  }

  async function finish(c: Claimed): Promise<void> {
    await unlink(c.path);
    await syncDir(p('active'));
  }

  async function unclaim(activeName: string): Promise<void> {
    const id = activeName.split('.')[0] ?? activeName;
    await rename(p('active', activeName), p('incoming', id));
    await syncDir(p('incoming'));
  }

  async function due(now: number): Promise<string[]> {
    const out: string[] = [];
    for (const n of await names('deferred')) {
      try {
        const st = await stat(p('deferred', n));
        if (st.mtimeMs <= now) out.push(n);
      } catch {
        /* claimed meanwhile */
      }
    }
    return out;
  }

  return { due, claim, update, defer, finish, unclaim, moveToCorrupt };
}
