// The quarantine: the spool's hold/ directory seen as held messages with their hold records, and the
// operator's actions on them (list, show, release, delete, expire). Trusts the spool's files only after their
// END record and checksum verify; `by` is whoever the caller authenticated (CLI user, console login).
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, Registry } from '@moat/observe';
import { type Clock, systemClock } from './clock.ts';
import { QueueError, QueueErrorCodes } from './errors.ts';
import { createDirSyncer } from './fsync.ts';
import { isQueueId } from './ids.ts';
import { type QuarantineMetrics, quarantineMetrics } from './quarantine-metrics.ts';
import { decodeWords, escapeControls, messagePreview, type MessagePreview } from './preview.ts';
import { peekEnvelope } from './reader.ts';
import { CorruptQueueFile, decode, encode, type Envelope, type HoldRecord } from './record.ts';
import { HOST_TAG, pidAlive, tmpName } from './tmp-files.ts';

/** No quarantine action takes this long: an older lock is a dead writer's, whatever host wrote it. */
const LOCK_MAX_AGE_MS = 10 * 60_000;

/** Teaches the spam filter a message (the bayes side implements it with spamd's learning; tests record). */
export type Learner = (message: Buffer, as: 'spam' | 'ham') => Promise<void>;

/** quarantine.retention's default: 30 days. */
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export interface QuarantineOptions {
  /** The spool directory (the queue's; hold/ is under it). */
  dir: string;
  logger: Logger;
  registry: Registry;
  clock?: Clock;
  /** How long a held message is kept before expire() removes it (default 30 days), ms. */
  retentionMs?: number;
  /** For release --learn-ham / delete --learn-spam; without it, asking to learn is an error. */
  learner?: Learner | undefined;
  /** fsync files and directories (default true; as the queue's option). */
  fsync?: boolean;
}

/** One held message as listed: its envelope facts and hold record (no body read). */
export interface HeldEntry {
  id: string;
  size: number;
  arrival?: number | undefined;
  sender?: string | undefined;
  recipients: string[];
  /** The Subject header (decoded, escaped, bounded), from the message's first 16 KiB. */
  subject?: string | undefined;
  /** Why it is held; undefined for a file whose envelope cannot be read (release/show will move it to corrupt/). */
  hold?: HoldRecord | undefined;
  /** When expire() removes it (hold time + retention). */
  expires?: number | undefined;
  /** A release was interrupted (crash between its two steps): release it again. */
  releasePending?: boolean;
  damaged?: boolean;
}

/** One held message for `show`: the entry, its header fields and a safe text preview. */
export interface HeldMessage extends HeldEntry {
  preview: MessagePreview;
}

export interface ActionOptions {
  /** Who does it (logged and counted; required). */
  by: string;
  /** release: learn as ham after the release; delete: learn as spam before the delete. */
  learn?: boolean;
}

export interface ActionResult {
  id: string;
  action: 'released' | 'deleted';
  /** When learning was asked: `ham`/`spam` when taught, or the learner's error (the release stands). */
  learned?: 'ham' | 'spam' | undefined;
  learnError?: string | undefined;
}

export interface Quarantine {
  readonly dir: string;
  readonly metrics: QuarantineMetrics;
  list(): Promise<HeldEntry[]>;
  show(id: string, opts?: { maxChars?: number }): Promise<HeldMessage>;
  release(id: string, opts: ActionOptions): Promise<ActionResult>;
  delete(id: string, opts: ActionOptions): Promise<ActionResult>;
  /** Removes held messages past retention; returns their ids. */
  expire(): Promise<string[]>;
}

/** The Subject of a message's header block, decoded and made safe (the preview's rules), or undefined. */
function subjectOf(head: Buffer): string | undefined {
  const m = /(?:^|\r?\n)Subject:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i.exec(head.toString('utf8'));
  if (!m) return undefined;
  return escapeControls(decodeWords(m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim()), false).slice(0, 200);
}

const notFound = (id: string) => new QueueError(QueueErrorCodes.ENOTFOUND, `${id} is not in the quarantine`);

export function openQuarantine(opts: QuarantineOptions): Quarantine {
  const dir = opts.dir;
  const clock = opts.clock ?? systemClock;
  const retention = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  const logger = opts.logger.child({ module: 'quarantine' });
  const metrics = quarantineMetrics(opts.registry);
  const doSync = opts.fsync !== false;
  const dirSync = createDirSyncer();
  const syncDir = (d: string) => (doSync ? dirSync(d) : Promise.resolve());
  const held = (id: string) => join(dir, 'hold', id);
  const lockPath = (id: string) => join(dir, 'hold', `.${id}.lock`);
  /** The ids this process is acting on now (its own locks). */
  const mine = new Set<string>();

  function checkId(id: string): void {
    if (!isQueueId(id)) throw new QueueError(QueueErrorCodes.EINVAL, `not a queue id: ${JSON.stringify(id.slice(0, 64))}`);
  }

  /**
   * One action per held message at a time, across processes (the mx's HTTP listener, a CLI on the spool): a
   * lock file beside it names its writer; a dead writer's lock is taken over. hold/ names starting with a dot
   * are no messages (the spool's readers skip them).
   */
  async function withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const path = lockPath(id);
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(path, 'wx', 0o600);
        await fh.writeFile(`${HOST_TAG} ${process.pid}\n`);
        await fh.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new QueueError(QueueErrorCodes.EBUSY, `${id}: another action on it is running; try again`);
          throw e;
        }
        if (await stale(path, id)) await unlink(path).catch(() => undefined);
        else throw new QueueError(QueueErrorCodes.EBUSY, `${id}: another action on it is running; try again`);
      }
    }
    mine.add(id);
    try {
      return await fn();
    } finally {
      mine.delete(id);
      await unlink(path).catch(() => undefined);
    }
  }

  /**
   * A lock nobody holds: its writer on this host is dead, or is this very process without the action (a
   * restarted container reuses small pids), or it is older than any action takes (a recreated container has
   * another host name).
   */
  async function stale(path: string, id: string | undefined): Promise<boolean> {
    const [host, pid] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
    if (host === HOST_TAG && (!pidAlive(Number(pid)) || (Number(pid) === process.pid && (id === undefined || !mine.has(id))))) return true;
    const age = await stat(path).then((st) => Date.now() - st.mtimeMs, () => 0);
    return age > LOCK_MAX_AGE_MS;
  }

  /** Locks left by a killed action: removed, as the spool's tmp/ sweep does. */
  async function sweepLocks(locks: string[]): Promise<void> {
    for (const n of locks) {
      const id = n.slice(1, -'.lock'.length);
      if (await stale(join(dir, 'hold', n), id)) await unlink(join(dir, 'hold', n)).catch(() => undefined);
    }
  }

  /** The verified held file, or: not found; damaged (moved to corrupt/, counted, logged, then thrown). */
  async function load(id: string, action: string, by?: string): Promise<{ envelope: Envelope; message: Buffer }> {
    let buf: Buffer;
    try {
      buf = await readFile(held(id));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw e;
    }
    try {
      const d = decode(buf);
      if (d.envelope.id !== id) throw new CorruptQueueFile('id does not match file name');
      return d;
    } catch (e) {
      if (!(e instanceof CorruptQueueFile)) throw e;
      const to = `${id}.${randomBytes(3).toString('hex')}`;
      await rename(held(id), join(dir, 'corrupt', to));
      await syncDir(join(dir, 'corrupt'));
      await syncDir(join(dir, 'hold'));
      metrics.corrupt.inc();
      metrics.actions.inc({ action, result: 'corrupt' });
      logger.error({ event: 'quarantine-corrupt', queueId: id, action, by, reason: e.message, movedTo: `corrupt/${to}` }, 'held message failed its checksum: moved to corrupt/, not released');
      throw new QueueError(QueueErrorCodes.ECORRUPT, `${id} failed its checksum (${e.message}): moved to corrupt/${to}, not ${action === 'release' ? 'released' : 'used'}`);
    }
  }

  function entryOf(id: string, size: number, env: Envelope | undefined): HeldEntry {
    if (!env) return { id, size, recipients: [], damaged: true };
    return {
      id,
      size,
      arrival: env.arrival,
      sender: env.sender,
      recipients: env.recipients.map((r) => r.address),
      hold: env.hold,
      ...(env.hold ? { expires: env.hold.time + retention } : {}),
      ...(env.released ? { releasePending: true } : {}),
    };
  }

  async function list(): Promise<HeldEntry[]> {
    let names: string[];
    try {
      names = await readdir(join(dir, 'hold'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    await sweepLocks(names.filter((n) => n.startsWith('.') && n.endsWith('.lock')));
    names = names.filter((n) => !n.startsWith('.')).sort();
    const out: HeldEntry[] = [];
    for (const n of names) {
      const peek = await peekEnvelope(held(n), 16 * 1024);
      if (!peek) continue; // gone meanwhile
      // an operator's hold (moat queue hold) is the queue's business, not the quarantine's
      if (peek.envelope && !peek.envelope.hold) continue;
      const subject = peek.head ? subjectOf(peek.head) : undefined;
      out.push({ ...entryOf(n, peek.size, peek.envelope), ...(subject !== undefined ? { subject } : {}) });
    }
    return out;
  }

  async function show(id: string, o: { maxChars?: number } = {}): Promise<HeldMessage> {
    checkId(id);
    const { envelope, message } = await load(id, 'show');
    if (!envelope.hold) throw notFound(id);
    const subject = subjectOf(message.subarray(0, 16 * 1024));
    return { ...entryOf(id, message.length, envelope), ...(subject !== undefined ? { subject } : {}), preview: messagePreview(message, o.maxChars === undefined ? {} : { maxChars: o.maxChars }) };
  }

  function checkBy(by: unknown): string {
    if (typeof by !== 'string' || by.trim() === '') throw new QueueError(QueueErrorCodes.EINVAL, 'an action needs `by` (who does it)');
    return by.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 128);
  }

  async function learn(message: Buffer, as: 'spam' | 'ham', id: string, by: string): Promise<string | undefined> {
    if (!opts.learner) return 'no learner configured on this node';
    try {
      await opts.learner(message, as);
      metrics.learned.inc({ as, result: 'ok' });
      logger.info({ event: 'quarantine-learn', queueId: id, as, by }, `learned as ${as}`);
      return undefined;
    } catch (e) {
      metrics.learned.inc({ as, result: 'error' });
      const err = (e as Error)?.message ?? String(e);
      logger.error({ event: 'quarantine-learn', queueId: id, as, by, err }, 'learning failed');
      return err;
    }
  }

  async function release(id: string, o: ActionOptions): Promise<ActionResult> {
    checkId(id);
    const by = checkBy(o.by);
    if (o.learn && !opts.learner) throw new QueueError(QueueErrorCodes.EINVAL, 'cannot learn: no learner configured on this node');
    const { envelope, message } = await withLock(id, async () => {
      const d = await load(id, 'release', by);
      if (!d.envelope.hold) throw notFound(id);
      // Rewrite in place with the release stamped (the queue lifetime counts from it), then move into
      // incoming/: a crash between the two leaves it held with "release pending", never delivered twice.
      d.envelope.released = { by, time: clock.now() };
      const tmp = join(dir, 'tmp', tmpName(id, `q${randomBytes(4).toString('hex')}`));
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(encode(d.envelope, d.message));
        if (doSync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, held(id));
      await syncDir(join(dir, 'hold'));
      await rename(held(id), join(dir, 'incoming', id));
      await syncDir(join(dir, 'incoming'));
      await syncDir(join(dir, 'hold'));
      return d;
    });
    metrics.actions.inc({ action: 'release', result: 'ok' });
    logger.info({ event: 'quarantine-release', queueId: id, by, check: envelope.hold?.check, reason: envelope.hold?.reason, sender: envelope.sender, nrcpt: envelope.recipients.length }, 'released from quarantine');
    const result: ActionResult = { id, action: 'released' };
    if (o.learn) {
      const err = await learn(message, 'ham', id, by);
      if (err) result.learnError = err;
      else result.learned = 'ham';
    }
    return result;
  }

  async function remove(id: string, by: string, action: 'delete' | 'expire', learnSpam: boolean): Promise<ActionResult> {
    return withLock(id, async () => {
      const { envelope, message } = await load(id, action, by);
      if (!envelope.hold) throw notFound(id);
      const result: ActionResult = { id, action: 'deleted' };
      if (learnSpam) {
        // learned before the delete: afterwards the bytes are gone. A failed learning keeps the message.
        const err = await learn(message, 'spam', id, by);
        if (err) throw new QueueError(QueueErrorCodes.EINVAL, `${id}: learning as spam failed, not deleted: ${err}`);
        result.learned = 'spam';
      }
      await unlink(held(id));
      await syncDir(join(dir, 'hold'));
      metrics.actions.inc({ action, result: 'ok' });
      const facts = { queueId: id, by, check: envelope.hold.check, reason: envelope.hold.reason, sender: envelope.sender, heldAt: envelope.hold.time };
      if (action === 'expire') metrics.expired.inc();
      logger.info({ event: `quarantine-${action}`, ...facts }, action === 'expire' ? 'expired from quarantine (retention)' : 'deleted from quarantine');
      return result;
    });
  }

  async function del(id: string, o: ActionOptions): Promise<ActionResult> {
    checkId(id);
    const by = checkBy(o.by);
    if (o.learn && !opts.learner) throw new QueueError(QueueErrorCodes.EINVAL, 'cannot learn: no learner configured on this node');
    return remove(id, by, 'delete', o.learn === true);
  }

  async function expire(): Promise<string[]> {
    const now = clock.now();
    const gone: string[] = [];
    for (const e of await list()) {
      if (e.expires === undefined || e.expires > now) continue;
      // someone released it (a crash left the move undone, or `moat queue hold` held it again): never dropped
      // for age; the list shows it as release pending and a release finishes it
      if (e.releasePending) continue;
      try {
        await remove(e.id, 'retention', 'expire', false);
        gone.push(e.id);
      } catch (err) {
        // a damaged file went to corrupt/ (logged there); a busy one waits for the next run
        if ((err as QueueError).code !== QueueErrorCodes.ECORRUPT) logger.warn({ queueId: e.id, err: (err as Error).message }, 'quarantine expiry skipped a message');
      }
    }
    return gone;
  }

  return {
    dir,
    metrics,
    list,
    show,
    release,
    delete: del,
    expire,
  };
}
