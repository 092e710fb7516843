// Sessions kept open after a delivery and reused for the next one to the same next hop, keyed by hop and options.
// Trusts only its own map; a cached session proves itself with RSET before use (the caller's job).
import type { Conversation, Reply } from './conversation.ts';

/**
 * Keep the session open after a delivery and reuse it for the next one to the same next hop
 * (Postfix's smtp_connection_cache_on_demand; RSET before reuse, closed after 2 s idle).
 */
const CACHE_IDLE_MS = 2000;
const CACHE_MAX_PER_KEY = 16;

export interface CachedSession {
  c: Conversation;
  ehlo: Reply;
  timer: NodeJS.Timeout;
}

const sessionCache = new Map<string, CachedSession[]>();

export function takeCached(key: string): CachedSession | undefined {
  const list = sessionCache.get(key);
  const s = list?.pop();
  if (list && list.length === 0) sessionCache.delete(key);
  if (s) {
    clearTimeout(s.timer);
    s.c.idle(false);
  }
  return s;
}

export function putCached(key: string, c: Conversation, ehlo: Reply): void {
  const list = sessionCache.get(key) ?? [];
  if (list.length >= CACHE_MAX_PER_KEY) {
    c.end();
    return;
  }
  const entry: CachedSession = {
    c,
    ehlo,
    timer: setTimeout(() => {
      const l = sessionCache.get(key);
      const i = l?.indexOf(entry) ?? -1;
      if (l && i >= 0) l.splice(i, 1);
      if (l && l.length === 0) sessionCache.delete(key);
      c.write('QUIT\r\n');
      c.end();
    }, CACHE_IDLE_MS),
  };
  entry.timer.unref();
  c.idle(true);
  list.push(entry);
  sessionCache.set(key, list);
}

/** Close every cached session (shutdown, tests). */
export function closeCachedSessions(): void {
  for (const [key, list] of sessionCache) {
    for (const s of list) {
      clearTimeout(s.timer);
      s.c.write('QUIT\r\n');
      s.c.end();
    }
    sessionCache.delete(key);
  }
}
