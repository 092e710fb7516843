// Reading a spool without changing it: mailq's view for operators, the CLI and the console.
// Trusts the file system as it finds it; never creates, recovers, fsyncs, moves or removes anything.
import { constants } from 'node:fs';
import { access, type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueError, QueueErrorCodes } from './errors.ts';
import type { Envelope } from './record.ts';
import { type QueueEntry, type QueueState, STATES } from './types.ts';

/** A spool opened read-only: what `mailq` needs, nothing that writes. */
export interface QueueReader {
  readonly dir: string;
  /** Every message, oldest first. */
  list(): Promise<QueueEntry[]>;
  /** Ids in one state directory (for active: `id.owner` names). */
  names(state: QueueState): Promise<string[]>;
}

/** File names in one state directory, sorted; a missing directory is empty. */
export async function spoolNames(dir: string, state: QueueState): Promise<string[]> {
  try {
    return (await readdir(join(dir, state))).filter((n) => !n.startsWith('.')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Reads only the envelope (no checksum: the file may be large); a damaged file is shown with what it has. */
export async function peekEntry(dir: string, state: QueueState, name: string): Promise<QueueEntry> {
  const id = name.split('.')[0] ?? name;
  const entry: QueueEntry = { id, state, size: 0 };
  if (state === 'active') entry.owner = name.slice(id.length + 1);
  const fh = await open(join(dir, state, name), 'r');
  try {
    const st = await fh.stat();
    entry.size = st.size;
    if (state === 'deferred') entry.nextRetry = st.mtimeMs;
    if (state === 'corrupt') return entry;
    const first = Buffer.alloc(32);
    const { bytesRead } = await fh.read(first, 0, 32, 0);
    const m = /^MOATQ1 (\d{1,9})\n/.exec(first.subarray(0, bytesRead).toString('latin1'));
    if (!m) return entry;
    const envLen = Number(m[1]);
    if (envLen > Math.min(st.size, 16 * 1024 * 1024)) return entry; // damaged: the runner will move it aside
    const json = Buffer.alloc(envLen);
    await fh.read(json, 0, envLen, m[0].length);
    const env = JSON.parse(json.toString('utf8')) as Envelope;
    entry.arrival = env.arrival;
    entry.sender = env.sender;
    entry.recipients = env.recipients.map((r) => ({
      address: r.address,
      state: r.state,
      ...(r.lastError ? { lastError: r.lastError } : {}),
    }));
    if (env.lastError) entry.lastError = env.lastError;
  } catch {
    /* shown with what we have */
  } finally {
    await fh.close();
  }
  return entry;
}

/** The file at `path` opened for reading, or undefined when there is none (any other failure is thrown). */
export async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * A queue file's size and envelope, reading only the envelope (no checksum: the file may be large); the
 * envelope is undefined when it cannot be read (a damaged file), the whole answer when the file is gone.
 */
export async function peekEnvelope(path: string, headBytes = 0): Promise<{ size: number; envelope?: Envelope; head?: Buffer } | undefined> {
  const fh = await openIfExists(path);
  if (!fh) return undefined;
  try {
    const st = await fh.stat();
    const first = Buffer.alloc(32);
    const { bytesRead } = await fh.read(first, 0, 32, 0);
    const m = /^MOATQ1 (\d{1,9})\n/.exec(first.subarray(0, bytesRead).toString('latin1'));
    if (!m || Number(m[1]) > Math.min(st.size, 16 * 1024 * 1024)) return { size: st.size };
    const json = Buffer.alloc(Number(m[1]));
    await fh.read(json, 0, json.length, m[0].length);
    try {
      const env = JSON.parse(json.toString('utf8')) as Envelope;
      if (typeof env !== 'object' || env === null || !Array.isArray(env.recipients)) return { size: st.size };
      if (headBytes <= 0) return { size: st.size, envelope: env };
      // the message's first bytes, for its Subject (the message starts after the envelope's newline)
      const head = Buffer.alloc(Math.max(0, Math.min(headBytes, st.size - m[0].length - json.length - 1)));
      const { bytesRead: got } = await fh.read(head, 0, head.length, m[0].length + json.length + 1);
      return { size: st.size, envelope: env, head: head.subarray(0, got) };
    } catch {
      return { size: st.size };
    }
  } finally {
    await fh.close();
  }
}

/** mailq: every message in every state, oldest first (ids sort by arrival). */
export async function listSpool(dir: string): Promise<QueueEntry[]> {
  const out: QueueEntry[] = [];
  for (const s of STATES) {
    for (const n of await spoolNames(dir, s)) {
      try {
        out.push(await peekEntry(dir, s, n));
      } catch {
        /* moved while listing */
      }
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const why = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})` : code === 'ENOTDIR' ? 'not a directory' : ((e as Error).message ?? String(e));
};

/**
 * Checks that `dir` is a spool this process can read (the directory and every state directory, which
 * openQueue always creates), without creating anything. Throws QueueError EQUEUE_NOSPOOL naming the path.
 */
export async function assertSpool(dir: string): Promise<void> {
  const fail = (what: string): never => {
    throw new QueueError(QueueErrorCodes.ENOSPOOL, what);
  };
  try {
    if (!(await stat(dir)).isDirectory()) fail(`no spool at ${dir}: not a directory`);
    await access(dir, constants.R_OK | constants.X_OK);
  } catch (e) {
    if (e instanceof QueueError) throw e;
    fail(`no spool at ${dir}: ${why(e)}`);
  }
  const missing: string[] = [];
  for (const s of STATES) {
    const d = join(dir, s);
    try {
      if (!(await stat(d)).isDirectory()) missing.push(`${s}/`);
      else await access(d, constants.R_OK | constants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') missing.push(`${s}/`);
      else fail(`cannot read spool ${d}: ${why(e)}`);
    }
  }
  if (missing.length) fail(`${dir} is not a moat spool (no ${missing.join(', ')})`);
}

/** Opens an existing spool for reading only: no mkdir, no crash recovery, no fsync. */
export async function openQueueReader(dir: string): Promise<QueueReader> {
  await assertSpool(dir);
  return { dir, list: () => listSpool(dir), names: (state) => spoolNames(dir, state) };
}
