// The spool's operations for admins, as data (mailq, postqueue -f, postsuper -h/-H/-d); the CLI and console present them.
// Trusts the local operator (file access to the spool is the permission); ids are checked before use as file names.
import { createLogger, createRegistry, type Logger } from '@moat/observe';
import { assertSpool, openQueueReader } from './reader.ts';
import { openQueue, type Queue } from './spool.ts';
import type { QueueEntry } from './types.ts';

export const DEFAULT_QUEUE_DIR = '/var/spool/moat';

export interface QueueAdminOptions {
  /** Where the operations' log lines go (default: warnings and up, to stdout). */
  logger?: Logger | undefined;
}

/** The operations act on a spool that exists: a mistyped directory is an error, never a new empty spool. */
async function open(dir: string, opts: QueueAdminOptions): Promise<Queue> {
  await assertSpool(dir);
  const logger = opts.logger ?? createLogger('moat-queue-admin', { level: process.env.MOAT_LOG_LEVEL ?? 'warn' });
  return openQueue({ dir, logger, registry: createRegistry() });
}

async function withQueue<T>(dir: string, opts: QueueAdminOptions, fn: (q: Queue) => Promise<T>): Promise<T> {
  const q = await open(dir, opts);
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

/** mailq, read-only: no directory is created and nothing is recovered; a missing spool throws EQUEUE_NOSPOOL. */
export async function queueList(dir: string): Promise<QueueEntry[]> {
  return (await openQueueReader(dir)).list();
}

/** All ids in states that `ALL` may touch for this operation. */
async function expand(q: Queue, ids: string[], states: ('incoming' | 'deferred' | 'hold' | 'corrupt')[]): Promise<string[]> {
  if (!ids.includes('ALL')) return ids;
  const out: string[] = [];
  for (const s of states) for (const n of await q.names(s)) out.push(n.split('.')[0]!);
  return [...new Set(out)];
}

/** Makes deferred messages (all, or these ids) due now; returns how many. */
export function queueFlush(dir: string, ids?: string[], opts: QueueAdminOptions = {}): Promise<number> {
  return withQueue(dir, opts, (q) => q.flush(ids?.length && !ids.includes('ALL') ? ids : undefined));
}

export function queueHold(dir: string, ids: string[], opts: QueueAdminOptions = {}): Promise<string[]> {
  return withQueue(dir, opts, async (q) => q.hold(await expand(q, ids, ['incoming', 'deferred'])));
}

export function queueRelease(dir: string, ids: string[], opts: QueueAdminOptions = {}): Promise<string[]> {
  return withQueue(dir, opts, async (q) => q.release(await expand(q, ids, ['hold'])));
}

export function queueDelete(dir: string, ids: string[], opts: QueueAdminOptions = {}): Promise<string[]> {
  return withQueue(dir, opts, async (q) => q.delete(await expand(q, ids, ['incoming', 'deferred', 'hold', 'corrupt'])));
}
