// createJournal: append every decision to a capped Redis stream shared by all nodes, and read it back.
// Trusts the Redis server it is pointed at; writing fails open (never waits past its timeout, never throws into mail).
import { hostname as osHostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger, Registry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { connectRedis, firstReadyGate, type RedisTarget, stallGuard } from '@moat/redis';
import { encodeEntry, type JournalEntry } from './entry.ts';
import { JournalTimeoutError, withTimeout } from './timeout.ts';
import { journalMetrics } from './metrics.ts';
import { createJournalReader } from './reader.ts';
import { DEFAULT_PREFIX, queueKey, sessionKey, streamKey } from './keys.ts';

export type { RedisTarget } from '@moat/redis';

export interface JournalOptions {
  redis: RedisTarget;
  /** Key prefix (default `moat:{journal}:`); several appliances sharing a Redis use one each. */
  prefix?: string | undefined;
  /** Approximate number of decisions kept (XADD MAXLEN ~); default 100 000. */
  maxLen?: number | undefined;
  /** How long (ms) an entry, a session index and a queue index live (Redis keeps whole seconds); default 7 days. */
  ttlMs?: number | undefined;
  /** Past this the caller's append stops being waited for and counts as a timeout; default 250 ms. */
  timeoutMs?: number | undefined;
  /** Appends not yet answered by Redis beyond this are dropped and counted (Redis slow or hung); default 1000. */
  maxPending?: number | undefined;
  /** This node's name in entries; default the host name. */
  node?: string | undefined;
  registry: Registry;
  logger: Logger;
}

export interface RecordExtras {
  ms?: number | undefined;
  reply?: string | undefined;
  queueId?: string | undefined;
  /** Default: facts.sessionId. */
  session?: string | undefined;
}

export interface RecentQuery {
  /** How many, newest first (default 50, at most 1000). */
  count?: number | undefined;
  /** Only entries older than this stream id (paging). */
  before?: string | undefined;
}

export interface Journal {
  /** Append one decision. Returns at once; the write runs in the background under `timeoutMs`. */
  record(facts: Facts, verdict: Verdict, extras?: RecordExtras): void;
  /** Index a session's decisions under the queue id its message got (the gateway learns it at end of DATA). */
  linkQueueId(sessionId: string, queueId: string): void;
  /** The newest decisions, newest first. */
  recent(q?: RecentQuery): Promise<JournalEntry[]>;
  /** A session's decisions, oldest first. */
  bySession(sessionId: string): Promise<JournalEntry[]>;
  /** The decisions behind a queued message, oldest first. */
  byQueueId(queueId: string): Promise<JournalEntry[]>;
  /** Resolves when every write started so far has finished (or timed out). */
  flush(): Promise<void>;
  /** True when Redis answers a PING. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

// KEYS[1] stream, KEYS[2..] index lists. ARGV: maxlen, ttl, json, index cap, trim-by-age flag.
const APPEND_LUA = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'j', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[5] == '1' then
  local t = redis.call('TIME')
  local minid = (tonumber(t[1]) - tonumber(ARGV[2])) * 1000
  if minid > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', tostring(minid)) end
end
for i = 2, #KEYS do
  redis.call('RPUSH', KEYS[i], id)
  redis.call('LTRIM', KEYS[i], -tonumber(ARGV[4]), -1)
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
return id
`;

// KEYS[1] session list, KEYS[2] queue list. ARGV: ttl, index cap.
const LINK_LUA = `
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
if #ids == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[2], ARGV[1])
return #ids
`;

/** Entries kept per session or queue id (a session is bounded by the gateway's command limit anyway). */
const INDEX_CAP = 500;
/** Trim by age at most this often (MAXLEN trims on every write; MINID only bounds age). */
const AGE_TRIM_MS = 60_000;

type Eval = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export function createJournal(options: JournalOptions): Journal {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const maxLen = options.maxLen ?? 100_000;
  const ttl = Math.max(1, Math.round((options.ttlMs ?? 7 * 86_400_000) / 1000));
  const timeoutMs = options.timeoutMs ?? 250;
  const maxPending = options.maxPending ?? 1000;
  const node = options.node ?? osHostname();
  const log = options.logger;
  const m = journalMetrics(options.registry);

  // auto-pipelining: every decision is an append, several per message and per tick under load; batched, they
  // share one write(2) instead of one each (the MX's profile had 9% of its SMTP thread in these writes)
  const redis = connectRedis(options.redis, { connectionName: 'moat-journal', connectTimeoutMs: Math.max(1000, timeoutMs * 4), autoPipelining: true });

  let up: boolean | undefined;
  let closed = false;
  // appends failing on a connection that looks open (a killed Redis host sends no reset): reconnect after 5 s
  const stall = stallGuard(redis, {
    afterMs: 5000,
    onReconnect: () => log.warn({ event: 'journal-reconnect' }, 'decision journal: appends fail on an open connection; reconnecting'),
  });
  const markDown = (e: unknown) => {
    stall.failed();
    if (up === false || closed) return;
    up = false;
    log.warn({ event: 'journal-down', err: { message: (e as Error)?.message } }, 'decision journal unavailable: decisions are not journaled until it recovers');
  };
  const markUp = () => {
    stall.ok();
    if (up === true) return;
    if (up === false) log.info({ event: 'journal-recovered' }, 'decision journal recovered');
    up = true;
  };
  redis.on('error', markDown);

  /** Before the first connection, wait for it within the caller's budget (later, fail fast). */
  const whenReady = firstReadyGate(redis);

  // EVALSHA with a fallback to EVAL on NOSCRIPT (ioredis); the key count is the first argument.
  redis.defineCommand('moatJournalAppend', { lua: APPEND_LUA });
  redis.defineCommand('moatJournalLink', { lua: LINK_LUA });
  const scripts = redis as unknown as { moatJournalAppend: Eval; moatJournalLink: Eval };
  /** Appends we still wait for (each settles within timeoutMs). */
  const waiting = new Set<Promise<void>>();
  /** Commands sent and not yet answered by Redis (may outlive our wait). */
  const unanswered = new Set<Promise<unknown>>();
  let lastAgeTrim = 0;

  function track(what: string, work: () => Promise<unknown>): void {
    if (closed) return;
    // Bounded by commands Redis has not answered yet (not by our wait): a hung Redis cannot grow memory.
    if (unanswered.size + waiting.size >= maxPending) {
      m.writes.inc({ result: 'dropped' });
      return;
    }
    const t0 = performance.now();
    const p = (async () => {
      try {
        await whenReady(timeoutMs);
        if (redis.status !== 'ready') {
          m.writes.inc({ result: 'unavailable' });
          return;
        }
        const cmd = work();
        unanswered.add(cmd);
        m.pending.set(unanswered.size);
        const settle = () => {
          unanswered.delete(cmd);
          m.pending.set(unanswered.size);
        };
        cmd.then(settle, settle);
        // Past the budget we stop waiting and count a timeout (Redis may still apply the append).
        await withTimeout(cmd, Math.max(1, timeoutMs - (performance.now() - t0)), what);
        m.writes.inc({ result: 'ok' });
        m.latency.observe((performance.now() - t0) / 1000);
        markUp();
      } catch (e) {
        m.writes.inc({ result: e instanceof JournalTimeoutError ? 'timeout' : 'error' });
        markDown(e);
      }
    })();
    waiting.add(p);
    void p.finally(() => waiting.delete(p));
  }

  const reader = createJournalReader(redis, prefix, whenReady);

  async function flush(): Promise<void> {
    while (waiting.size) await Promise.allSettled([...waiting]);
  }

  return {
    record(facts, verdict, extras = {}) {
      let json: string;
      let keys: string[];
      try {
        const session = extras.session ?? facts.sessionId;
        const entry: JournalEntry = { time: Date.now(), node, session, queueId: extras.queueId, facts, verdict, reply: extras.reply, ms: extras.ms };
        json = encodeEntry(entry);
        keys = [streamKey(prefix)];
        if (session) keys.push(sessionKey(prefix, session));
        if (extras.queueId) keys.push(queueKey(prefix, extras.queueId));
      } catch (e) {
        m.writes.inc({ result: 'error' });
        log.warn({ event: 'journal-encode-failed', err: { message: (e as Error).message } }, 'decision not journaled');
        return;
      }
      const now = Date.now();
      const trim = now - lastAgeTrim > AGE_TRIM_MS;
      if (trim) lastAgeTrim = now;
      track('journal append', () => scripts.moatJournalAppend(keys.length, ...keys, maxLen, ttl, json, INDEX_CAP, trim ? '1' : '0'));
    },

    linkQueueId(sessionId, queueId) {
      track('journal link', () => scripts.moatJournalLink(2, sessionKey(prefix, sessionId), queueKey(prefix, queueId), ttl, INDEX_CAP));
    },

    ...reader,

    flush,

    async ping() {
      try {
        await whenReady(timeoutMs);
        await withTimeout(redis.ping(), Math.max(timeoutMs, 1000), 'journal ping');
        return true;
      } catch {
        return false;
      }
    },

    async close() {
      if (closed) return;
      await flush();
      closed = true;
      stall.close();
      try {
        await withTimeout(redis.quit(), 1000, 'journal quit');
      } catch {
        redis.disconnect();
      }
    },
  };
}
