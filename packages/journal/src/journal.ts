// createJournal: append every decision to a capped Redis stream shared by all nodes, and read it back.
// Trusts the Redis server it is pointed at; writing fails open (never waits past its timeout, never throws into mail).
import { hostname as osHostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger, Registry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { connectRedis, firstReadyGate, type RedisTarget, stallGuard } from '@moat/redis';
import { createBatcher, type JournalOp } from './batch.ts';
import { encodeEntry, type JournalEntry } from './entry.ts';
import { JournalConfigError, JournalTimeoutError, JournalWriteError, withTimeout } from './errors.ts';
import { journalMetrics } from './metrics.ts';
import { createJournalReader } from './reader.ts';
import { DEFAULT_PREFIX, prefixHashTag, queueKey, sessionKey, streamKey } from './keys.ts';

export type { RedisTarget } from '@moat/redis';

export interface JournalOptions {
  redis: RedisTarget;
  /** Key prefix (default `moat:{journal}:`); several appliances sharing a Redis use one each. On Redis Cluster it
   * must carry a hash tag (`{…}`), else createJournal throws JournalConfigError. */
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

/** Entries kept per session or queue id (a session is bounded by the gateway's command limit anyway). */
const INDEX_CAP = 500;
/** Trim by age at most this often (MAXLEN trims on every write; MINID only bounds age). */
const AGE_TRIM_MS = 60_000;

export function createJournal(options: JournalOptions): Journal {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  // one batch call writes the stream and many index keys: on a Cluster they must share one slot
  if ('cluster' in options.redis && prefixHashTag(prefix) === undefined) {
    throw new JournalConfigError(
      `journal.prefix (MOAT_JOURNAL_PREFIX) "${prefix}" has no hash tag: on Redis Cluster every journal key must share one slot; use e.g. "${prefix.replace(/[{}]/g, '').replace(/:?$/, '')}:{journal}:"`,
    );
  }
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

  /** Appends we still wait for (each settles within timeoutMs). */
  const waiting = new Set<Promise<void>>();
  /** Appends and links sent and not yet answered by Redis (may outlive our wait). */
  let unanswered = 0;
  let lastAgeTrim = 0;
  // one script call per event-loop turn for all writes of the turn (EVALSHA, EVAL on NOSCRIPT: ioredis)
  const batch = createBatcher(redis, { maxLen, ttl, indexCap: INDEX_CAP }, (ops, call) => {
    unanswered += ops;
    m.pending.set(unanswered);
    const settle = () => {
      unanswered -= ops;
      m.pending.set(unanswered);
    };
    call.then(settle, settle);
  });

  function track(what: string, op: JournalOp): void {
    if (closed) return;
    // Bounded by writes Redis has not answered yet (not by our wait): a hung Redis cannot grow memory.
    if (unanswered + waiting.size >= maxPending) {
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
        const cmd = batch.send(op);
        // Past the budget we stop waiting and count a timeout (Redis may still apply the append).
        await withTimeout(cmd, Math.max(1, timeoutMs - (performance.now() - t0)), what);
        m.writes.inc({ result: 'ok' });
        m.latency.observe((performance.now() - t0) / 1000);
        markUp();
      } catch (e) {
        m.writes.inc({ result: e instanceof JournalTimeoutError ? 'timeout' : 'error' });
        if (!(e instanceof JournalWriteError)) {
          markDown(e);
          return;
        }
        // Redis answered and refused this one write (its key holds another type): not an outage
        stall.ok();
        log.warn({ event: 'journal-write-failed', err: { message: e.message } }, 'decision not journaled: Redis refused the write');
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
      track('journal append', { kind: 'append', keys, json, trim });
    },

    linkQueueId(sessionId, queueId) {
      track('journal link', { kind: 'link', keys: [sessionKey(prefix, sessionId), queueKey(prefix, queueId)] });
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
