// Reading the decision journal back (the console, `moat explain`): recent entries, and by session or queue id.
// Trusts its Redis only as far as decodeEntry does: an entry that does not decode is skipped.
import type { RedisClient } from '@moat/redis';
import { decodeEntry, type JournalEntry } from './entry.ts';
import { queueKey, sessionKey, streamKey } from './keys.ts';
import type { RecentQuery } from './journal.ts';
import { withTimeout } from './errors.ts';

export interface JournalReader {
  recent(q?: RecentQuery): Promise<JournalEntry[]>;
  bySession(id: string): Promise<JournalEntry[]>;
  byQueueId(id: string): Promise<JournalEntry[]>;
}

export function createJournalReader(redis: RedisClient, prefix: string, whenReady: (ms: number) => Promise<void>): JournalReader {
  async function fetch(ids: string[]): Promise<JournalEntry[]> {
    if (ids.length === 0) return [];
    const pipe = redis.pipeline();
    for (const id of ids) pipe.xrange(streamKey(prefix), id, id);
    const rows = (await withTimeout(pipe.exec(), 5000, 'journal read')) ?? [];
    const out: JournalEntry[] = [];
    for (const [err, res] of rows) {
      if (err) throw err;
      for (const [id, fields] of (res as [string, string[]][]) ?? []) {
        const e = decodeEntry(id, fieldValue(fields, 'j'));
        if (e) out.push(e);
      }
    }
    return out;
  }

  /** Readers wait for a connection a little, then say plainly that Redis is not there. */
  async function connected(): Promise<void> {
    await whenReady(5000);
    if (redis.status !== 'ready') throw new Error('decision journal unavailable: its Redis is not connected');
  }

  async function readIndex(key: string): Promise<JournalEntry[]> {
    await connected();
    const ids = await withTimeout(redis.lrange(key, 0, -1), 5000, 'journal read');
    return fetch([...new Set(ids)]);
  }

  async function recent(q: RecentQuery = {}): Promise<JournalEntry[]> {
    const count = Math.max(1, Math.min(1000, q.count ?? 50));
    await connected();
    const end = q.before ? `(${q.before}` : '+';
    const rows = await withTimeout(redis.xrevrange(streamKey(prefix), end, '-', 'COUNT', count), 5000, 'journal read');
    const out: JournalEntry[] = [];
    for (const [id, fields] of rows) {
      const e = decodeEntry(id, fieldValue(fields, 'j'));
      if (e) out.push(e);
    }
    return out;
  }

  return { recent, bySession: (id) => readIndex(sessionKey(prefix, id)), byQueueId: (id) => readIndex(queueKey(prefix, id)) };
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
