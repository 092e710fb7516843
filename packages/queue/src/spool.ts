// The spool: Postfix-style directories where a message's state is the directory its file sits in.
// Trusts the local file system and fsync; message bytes are untrusted and stored as received.
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readFile, rename, stat, statfs, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@moat/observe';
import type { Registry } from '@moat/observe';
import { type Clock, systemClock } from './clock.ts';
import { QueueError, QueueErrorCodes } from './errors.ts';
import { type Draft, isSpooled, openDraft, spooledLength } from './draft.ts';
import { createDirSyncer } from './fsync.ts';
import { isQueueId, newQueueId } from './ids.ts';
import { type QueueMetrics, queueMetrics } from './metrics.ts';
import { CorruptQueueFile, type Envelope, decode, encode, headerBytes, MAGIC, recipientRecords, trailerBytes } from './record.ts';
import { listSpool, spoolNames } from './reader.ts';
import { sweepTmp, tmpName, writerOf } from './tmp-files.ts';
import { type EnqueueInput, type QueueEntry, type QueueHold, type QueuedMessage, type QueueState, type QueueWriter, STATES } from './types.ts';
import type { SpooledMessage } from './draft.ts';

export { STATES, type QueueEntry, type QueueState };

export interface QueueOptions {
  /** The spool directory (created if missing). */
  dir: string;
  clock?: Clock;
  logger: Logger;
  registry: Registry;
  /**
   * fsync files and directories (default true). Only the benchmark turns it off, to show its cost;
   * with false the queue may lose acknowledged mail on power loss.
   */
  fsync?: boolean;
  /** Largest message accepted by enqueue, bytes (default 50 MiB). */
  maxMessageSize?: number;
  /**
   * Refuse new mail while the spool's file system has less free space than this (Postfix queue_minfree;
   * default 0 = never). Delivery, DSNs and rewrites are not refused: they free space or are needed.
   */
  minFreeBytes?: number;
  /** This node's name in a quarantined message's hold record (default: the host name). */
  node?: string;
}

/** A message claimed for delivery: it sits in active/ under a name only its owner uses. */
export interface Claimed {
  id: string;
  path: string;
  envelope: Envelope;
  message: Buffer;
}

export interface Queue extends QueueWriter {
  readonly dir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: QueueMetrics;
  /** `internal.kind` marks DSNs the runner generates (they are never bounced or warned about). */
  enqueue(input: EnqueueInput, internal?: { kind: Envelope['kind'] }): Promise<QueuedMessage>;
  /** Called after each enqueue by this handle (the runner wakes up on it). */
  onEnqueue(listener: (id: string) => void): () => void;
  /** Ids in one state directory (for active: `id.owner` names). */
  names(state: QueueState): Promise<string[]>;
  /** Ids in deferred/ whose retry time (mtime) has come. */
  due(now: number): Promise<string[]>;
  /**
   * Take a message for delivery: rename from incoming/ or deferred/ into active/ under `owner`'s
   * name. The rename is the lock; null if another runner got it first. A file that fails to parse is
   * moved to corrupt/ and null returned.
   */
  claim(from: 'incoming' | 'deferred', id: string, owner: string): Promise<Claimed | null>;
  /** Rewrite a claimed message's envelope in place (durable, atomic). */
  update(claimed: Claimed): Promise<void>;
  /** Rewrite and move to deferred/ with mtime = next retry. */
  defer(claimed: Claimed, nextRetry: number): Promise<void>;
  /** All recipients are done: remove the file. */
  finish(claimed: Claimed): Promise<void>;
  /** Put a claimed (or orphaned active) file back into incoming/. */
  unclaim(activeName: string): Promise<void>;
  /** Move a damaged file aside, with a log line and a metric; never throws. */
  moveToCorrupt(state: QueueState, name: string, reason: string): Promise<void>;
  /** mailq: every message, oldest first. */
  list(): Promise<QueueEntry[]>;
  /** Make deferred messages (all, or these ids) due now. Returns how many. */
  flush(ids?: string[]): Promise<number>;
  hold(ids: string[]): Promise<string[]>;
  release(ids: string[]): Promise<string[]>;
  delete(ids: string[]): Promise<string[]>;
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');

const bufferOf = (b: Buffer | Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function writeAt(fh: FileHandle, b: Buffer, at: number): Promise<void> {
  for (let off = 0; off < b.length; ) {
    const { bytesWritten } = await fh.write(b, off, b.length - off, at + off);
    off += bytesWritten;
  }
}

function checkAddress(a: string, what: string): void {
  if (typeof a !== 'string' || /[\r\n\0<> ]/.test(a) || a.length > 512) {
    throw new QueueError(QueueErrorCodes.EINVAL, `bad ${what} address`);
  }
}

/** A caller's hold as stored: check and reason as printable text of bounded length, a finite score or none. */
function holdRecord(h: QueueHold): QueueHold & { score?: number } {
  if (typeof h !== 'object' || h === null || typeof h.check !== 'string' || typeof h.reason !== 'string') {
    throw new QueueError(QueueErrorCodes.EINVAL, 'hold needs a check and a reason');
  }
  const text = (s: string, max: number) => s.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, max);
  const check = text(h.check, 64) || 'unknown';
  return { check, reason: text(h.reason, 500), ...(typeof h.score === 'number' && Number.isFinite(h.score) ? { score: h.score } : {}) };
}

export async function openQueue(opts: QueueOptions): Promise<Queue> {
  const dir = opts.dir;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger.child({ module: 'queue' });
  const doSync = opts.fsync !== false;
  const maxSize = opts.maxMessageSize ?? 50 * 1024 * 1024;
  const node = opts.node ?? hostname();
  const dirSync = createDirSyncer();
  const syncDir = (d: string) => (doSync ? dirSync(d) : Promise.resolve());
  const p = (state: QueueState | 'tmp', name?: string) => (name ? join(dir, state, name) : join(dir, state));

  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const s of [...STATES, 'tmp'] as const) await mkdir(p(s), { recursive: true, mode: 0o700 });
  if (doSync) await dirSync(dir);

  const listeners = new Set<(id: string) => void>();
  /** Drafts being adopted by an enqueue now (a second enqueue of the same draft copies instead). */
  const adopting = new Set<string>();
  let closed = false;

  const names = (state: QueueState) => spoolNames(dir, state);

  const metrics = queueMetrics(opts.registry, async () => {
    const out: Record<string, number> = {};
    for (const s of STATES) out[s] = (await names(s)).length;
    return out;
  });

  // Crash leftovers in tmp/ were never acknowledged (a file leaves tmp/ by its rename into incoming/, and the
  // 250 comes after that): those of dead writers go now; a live writer's (this process's other thread, another
  // MX on this host) stay. Names without a writer (older versions) or from another host go after an hour.
  const swept = await sweepTmp(p('tmp'), { writer: writerOf });
  if (swept.length > 0) {
    metrics.tmpSwept.inc(swept.length);
    logger.info({ event: 'tmp-swept', count: swept.length, files: swept.slice(0, 20) }, 'removed files of dead transactions from tmp/');
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

  async function enqueue(input: EnqueueInput, internal?: { kind: Envelope['kind'] }): Promise<QueuedMessage> {
    if (closed) throw new QueueError(QueueErrorCodes.ECLOSED, 'queue is closed');
    if (!Array.isArray(input.recipients) || input.recipients.length === 0) {
      throw new QueueError(QueueErrorCodes.EINVAL, 'no recipients');
    }
    checkAddress(input.sender, 'sender');
    for (const r of input.recipients) checkAddress(r, 'recipient');
    for (const h of input.prepend ?? []) {
      if (/[\r\n\0]/.test(h)) throw new QueueError(QueueErrorCodes.EINVAL, 'prepended header contains CR, LF or NUL');
    }
    const hold = input.hold && !internal ? holdRecord(input.hold) : undefined;
    if (opts.minFreeBytes && !internal) {
      const fs = await statfs(dir);
      if (fs.bavail * fs.bsize < opts.minFreeBytes) {
        logger.error({ free: fs.bavail * fs.bsize, minFree: opts.minFreeBytes }, 'spool disk nearly full: refusing new mail');
        throw new QueueError(QueueErrorCodes.ENOSPACE, 'insufficient system storage');
      }
    }
    const now = clock.now();
    const id = newQueueId(now);
    const { v, recipients } = recipientRecords(input);
    const envelope: Envelope = {
      v,
      id,
      sender: input.sender,
      recipients,
      route: input.route ?? 'local',
      meta: input.meta ?? {},
      arrival: now,
      attempts: 0,
      kind: internal?.kind ?? 'mail',
      ...(hold ? { hold: { ...hold, time: now, node } } : {}),
    };
    // a quarantined message is written exactly as any other, only into hold/ (Postfix's HOLD action)
    const into: 'incoming' | 'hold' = hold ? 'hold' : 'incoming';
    const done = (adopted: boolean): QueuedMessage => {
      metrics.enqueued.inc();
      const facts = { queueId: id, sender: input.sender, nrcpt: input.recipients.length, route: envelope.route, ...(adopted ? { adopted } : {}) };
      if (hold) {
        metrics.quarantined.inc({ check: hold.check });
        logger.info({ ...facts, event: 'quarantined', check: hold.check, reason: hold.reason, score: hold.score }, 'quarantined (hold/)');
      } else {
        logger.info(facts, 'queued');
        for (const l of listeners) l(id);
      }
      return { id };
    };
    const spooled = isSpooled(input.message) ? input.message : undefined;
    if (spooled) {
      if (!spooled.file.startsWith(`${p('tmp')}/`) || spooled.skip < 0 || spooled.skip > spooled.size) {
        throw new QueueError(QueueErrorCodes.EINVAL, 'spooled message outside this spool');
      }
      if (spooledLength(spooled) > maxSize) throw new QueueError(QueueErrorCodes.EINVAL, 'message too large');
    }
    if (spooled && (await adopt(spooled, envelope, input.prepend ?? [], id, into))) return done(true);
    const head = headerBytes(envelope);
    // The checksum covers the envelope JSON (between the magic line and its newline) and the message.
    const hash = createHash('sha256').update(head.subarray(head.indexOf(0x0a) + 1, head.length - 1));
    const tmpPath = p('tmp', tmpName(id));
    const fh = await open(tmpPath, 'wx', 0o600);
    let ok = false;
    try {
      let size = 0;
      let pos = 0;
      // Small pieces are gathered and written together: one write for a typical message.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const writeAll = async (b: Buffer) => {
        let off = 0;
        while (off < b.length) {
          const { bytesWritten } = await fh.write(b, off, b.length - off, pos);
          off += bytesWritten;
          pos += bytesWritten;
        }
      };
      const flush = async () => {
        if (pendingBytes === 0) return;
        const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        await writeAll(b);
      };
      const write = async (b: Buffer) => {
        if (b.length >= 64 * 1024) {
          // large pieces go straight out (no copy)
          await flush();
          await writeAll(b);
          return;
        }
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= 256 * 1024) await flush();
      };
      const body = async (b: Buffer) => {
        size += b.length;
        if (size > maxSize) throw new QueueError(QueueErrorCodes.EINVAL, 'message too large');
        hash.update(b);
        await write(b);
      };
      await write(head);
      for (const h of input.prepend ?? []) await body(Buffer.concat([Buffer.from(h, 'utf8'), CRLF]));
      if (Buffer.isBuffer(input.message)) await body(input.message);
      else if (spooled) await copySpooled(spooled, body);
      else for await (const chunk of input.message as AsyncIterable<Buffer>) await body(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      await write(trailerBytes(size, hash.digest('hex')));
      await flush();
      if (doSync) await fh.sync();
      ok = true;
    } finally {
      await fh.close();
      if (!ok) await unlink(tmpPath).catch(() => undefined);
    }
    await rename(tmpPath, p(into, id));
    await syncDir(p(into));
    return done(false);
  }

  /**
   * A spooled message into the queue file being written: its head, then its file from `skip` on, read in
   * 256 KiB pieces (memory does not grow with the message). The file must still have the length it had when
   * handed over: a draft cut short (disk full, a bug) must not become a shorter message that looks whole.
   */
  async function copySpooled(m: SpooledMessage, body: (b: Buffer) => Promise<void>): Promise<void> {
    const head = bufferOf(m.head);
    if (head.length > 0) await body(head);
    const offset = m.offset ?? 0;
    const rh = await open(m.file, 'r');
    try {
      // an adopted draft (an earlier route's queue file) is longer by its END record: its body is unchanged
      const st = await rh.stat();
      if (st.size < offset + m.size) throw new QueueError(QueueErrorCodes.EINVAL, `spooled message is ${st.size - offset} bytes, expected ${m.size}`);
      for (let pos = m.skip; pos < m.size; ) {
        const buf = Buffer.allocUnsafe(Math.min(256 * 1024, m.size - pos));
        const { bytesRead } = await rh.read(buf, 0, buf.length, offset + pos);
        if (bytesRead === 0) throw new QueueError(QueueErrorCodes.EINVAL, 'spooled message shorter than announced');
        pos += bytesRead;
        await body(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      }
    } finally {
      await rh.close();
    }
  }

  /**
   * The draft itself becomes the queue file, without copying the message: its first lines (magic line,
   * envelope JSON padded with spaces, prepended headers, the rewritten header block) are written into the room
   * the draft left before the message, ending exactly where the body starts; the END record is appended; the
   * file is fsync'ed and only then linked into incoming/, which is fsync'ed before enqueue resolves. That is
   * the order every enqueue keeps (complete and durable before it has a name outside tmp/; named durably
   * before the 250). The draft's tmp/ name stays until the gateway discards it; a crash leaves only that name,
   * which the start-up sweep removes (the queue file keeps its own name). Nothing writes into a queue file's
   * inode once it is in incoming/ (updates write a new file and rename it over), so later routes copy the body
   * from the same inode safely. Returns false, having changed nothing, when the draft has no room, is
   * adopted already (one draft becomes at most one queue file), or the first lines do not fit.
   */
  async function adopt(m: SpooledMessage, envelope: Envelope, prepend: string[], id: string, into: 'incoming' | 'hold'): Promise<boolean> {
    const offset = m.offset ?? 0;
    if (offset === 0 || adopting.has(m.file)) return false;
    const head = bufferOf(m.head);
    const pre = Buffer.concat(prepend.map((h) => Buffer.concat([Buffer.from(h, 'utf8'), CRLF])));
    const json = Buffer.from(JSON.stringify(envelope), 'utf8');
    // `MOATQ1 <n>\n` + n bytes of JSON and spaces + `\n` + prepend + head must end where the body starts
    const room = offset + m.skip - pre.length - head.length - 1;
    let first: Buffer | undefined;
    for (let digits = 1; digits <= 9 && !first; digits++) {
      const envLen = room - (MAGIC.length + 2 + digits);
      if (envLen >= json.length && String(envLen).length === digits) {
        first = Buffer.concat([Buffer.from(`${MAGIC} ${envLen}\n`, 'ascii'), json, Buffer.alloc(envLen - json.length, 0x20), Buffer.from('\n')]);
      }
    }
    if (!first) return false;
    const msgLen = pre.length + head.length + (m.size - m.skip);
    if (msgLen > maxSize) throw new QueueError(QueueErrorCodes.EINVAL, 'message too large');
    adopting.add(m.file);
    try {
      const fh = await open(m.file, 'r+');
      try {
        const st = await fh.stat();
        if (st.size !== offset + m.size) return false; // adopted by an earlier route (END appended), or not whole
        const hash = createHash('sha256').update(first.subarray(first.indexOf(0x0a) + 1, first.length - 1)).update(pre).update(head);
        // one buffer for the whole read-back: hashing is synchronous, nothing keeps a piece
        const buf = Buffer.allocUnsafe(Math.min(256 * 1024, Math.max(1, m.size - m.skip)));
        for (let pos = offset + m.skip; pos < offset + m.size; ) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, offset + m.size - pos), pos);
          if (bytesRead === 0) throw new QueueError(QueueErrorCodes.EINVAL, 'spooled message shorter than announced');
          hash.update(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
        await writeAt(fh, Buffer.concat([first, pre, head]), 0);
        await writeAt(fh, trailerBytes(msgLen, hash.digest('hex')), offset + m.size);
        if (doSync) await fh.sync();
      } finally {
        await fh.close();
      }
      await link(m.file, p(into, id));
      await syncDir(p(into));
      return true;
    } finally {
      adopting.delete(m.file);
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

  /** mailq: the same read-only view as openQueueReader's. */
  const list = () => listSpool(dir);

  function checkIds(ids: string[]): void {
    for (const id of ids) if (!isQueueId(id)) throw new QueueError(QueueErrorCodes.EINVAL, `not a queue id: ${id}`);
  }

  async function flush(ids?: string[]): Promise<number> {
    if (ids) checkIds(ids);
    // The epoch, not "now": due for every runner whatever its clock (another process, a test clock).
    let n = 0;
    for (const id of ids ?? (await names('deferred'))) {
      try {
        await utimes(p('deferred', id), 0, 0);
        n++;
      } catch {
        /* not deferred (any more) */
      }
    }
    logger.info({ count: n }, 'flush: deferred messages made due');
    return n;
  }

  /**
   * A quarantined message (a hold record, not released) or one the quarantine is acting on (its lock) is the
   * quarantine's: `moat queue release|delete ALL` must not deliver or drop it behind its back (use `moat
   * quarantine`). A file that cannot be read as a queue file is left to the usual handling.
   */
  async function quarantined(id: string): Promise<boolean> {
    try {
      await stat(join(dir, 'hold', `.${id}.lock`));
      return true;
    } catch {
      // no action of the quarantine's under way
    }
    try {
      const { envelope } = decode(await readFile(p('hold', id)));
      return envelope.hold !== undefined && envelope.released === undefined;
    } catch {
      return false;
    }
  }

  async function moveAny(ids: string[], from: QueueState[], to: QueueState, verb: string): Promise<string[]> {
    checkIds(ids);
    const done: string[] = [];
    for (const id of ids) {
      for (const s of from) {
        try {
          if (s === 'hold' && (await quarantined(id))) {
            logger.warn({ queueId: id, event: 'quarantined-skipped' }, 'in the quarantine: not released (moat quarantine release)');
            break;
          }
          await rename(p(s, id), p(to, id));
          if (to === 'deferred') await utimes(p(to, id), 0, 0); // due now, as after flush
          await syncDir(p(to));
          done.push(id);
          logger.info({ queueId: id, from: s, to }, verb);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    }
    return done;
  }

  async function del(ids: string[]): Promise<string[]> {
    checkIds(ids);
    const done: string[] = [];
    for (const id of ids) {
      for (const s of ['incoming', 'deferred', 'hold'] as const) {
        try {
          if (s === 'hold' && (await quarantined(id))) {
            logger.warn({ queueId: id, event: 'quarantined-skipped' }, 'in the quarantine: not deleted (moat quarantine delete)');
            break;
          }
          await unlink(p(s, id));
          await syncDir(p(s));
          done.push(id);
          logger.info({ queueId: id, state: s }, 'deleted by operator');
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      if (!done.includes(id)) {
        const corrupt = (await names('corrupt')).filter((n) => n.startsWith(`${id}.`) || n === id);
        for (const n of corrupt) await unlink(p('corrupt', n)).catch(() => undefined);
        if (corrupt.length) {
          done.push(id);
          logger.info({ queueId: id, state: 'corrupt' }, 'deleted by operator');
        } else if ((await names('active')).some((n) => n.startsWith(`${id}.`))) {
          throw new QueueError(QueueErrorCodes.EBUSY, `${id} is being delivered; try again`);
        }
      }
    }
    return done;
  }

  return {
    dir,
    clock,
    logger,
    metrics,
    enqueue,
    draft: (): Promise<Draft> => openDraft(dir),
    onEnqueue(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    names,
    due,
    claim,
    update,
    defer,
    finish,
    unclaim,
    moveToCorrupt,
    list,
    flush,
    hold: (ids) => moveAny(ids, ['incoming', 'deferred'], 'hold', 'held by operator'),
    release: (ids) => moveAny(ids, ['hold'], 'deferred', 'released by operator'),
    delete: del,
    async close() {
      closed = true;
      listeners.clear();
    },
  };
}
