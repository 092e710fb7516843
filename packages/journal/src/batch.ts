// The journal's writes of one event-loop turn as one Lua call: every append and queue-id link queued in the turn,
// in order, in one EVALSHA (one command for Redis and for ioredis instead of one per decision). Trusts its caller's keys.
import type { RedisClient } from '@moat/redis';

/** One write: an append (the stream key, then its index lists) or a link (session list, queue list). */
export type JournalOp = { kind: 'append'; keys: string[]; json: string; trim: boolean } | { kind: 'link'; keys: [string, string] };

// KEYS: each op's keys in op order. ARGV: maxlen, ttl, index cap, trim-by-age flag, then per op: kind, key count, json.
// The stream's EXPIRE and the age trim run once per call (same end state as once per append).
const BATCH_LUA = `
local maxlen, ttl, cap = ARGV[1], ARGV[2], tonumber(ARGV[3])
local k, a, appended = 1, 5, false
while a <= #ARGV do
  local n = tonumber(ARGV[a + 1])
  if ARGV[a] == 'a' then
    local id = redis.call('XADD', KEYS[k], 'MAXLEN', '~', maxlen, '*', 'j', ARGV[a + 2])
    if not appended then
      appended = k
    end
    for i = k + 1, k + n - 1 do
      redis.call('RPUSH', KEYS[i], id)
      redis.call('LTRIM', KEYS[i], -cap, -1)
      redis.call('EXPIRE', KEYS[i], ttl)
    end
  else
    local ids = redis.call('LRANGE', KEYS[k], 0, -1)
    if #ids > 0 then
      redis.call('DEL', KEYS[k + 1])
      redis.call('RPUSH', KEYS[k + 1], unpack(ids))
      redis.call('LTRIM', KEYS[k + 1], -cap, -1)
      redis.call('EXPIRE', KEYS[k + 1], ttl)
    end
  end
  k = k + n
  a = a + 3
end
if appended then
  redis.call('EXPIRE', KEYS[appended], ttl)
  if ARGV[4] == '1' then
    local t = redis.call('TIME')
    local minid = (tonumber(t[1]) - tonumber(ttl)) * 1000
    if minid > 0 then redis.call('XTRIM', KEYS[appended], 'MINID', '~', tostring(minid)) end
  end
end
return k - 1
`;

type BatchCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export interface Batcher {
  /** Queue `op` for this turn's call; resolves or rejects with that call (an op's own outcome is the call's). */
  send(op: JournalOp): Promise<unknown>;
}

/**
 * `onSent` hears of each call sent and how many ops it carries (the pending count). Ops are queued until the end of the current turn (setImmediate: after the poll phase's socket reads, so the
 * decisions of every session served in the turn share the call), then sent as one script call.
 */
export function createBatcher(
  redis: RedisClient,
  limits: { maxLen: number; ttl: number; indexCap: number },
  onSent: (ops: number, call: Promise<unknown>) => void,
): Batcher {
  redis.defineCommand('moatJournalBatch', { lua: BATCH_LUA });
  const call = (redis as unknown as { moatJournalBatch: BatchCommand }).moatJournalBatch.bind(redis);
  let queued: { op: JournalOp; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];

  function flush(): void {
    const ops = queued;
    queued = [];
    const keys: string[] = [];
    const args: (string | number)[] = [limits.maxLen, limits.ttl, limits.indexCap, '0'];
    for (const { op } of ops) {
      keys.push(...op.keys);
      if (op.kind === 'append') {
        args.push('a', op.keys.length, op.json);
        if (op.trim) args[3] = '1';
      } else args.push('l', 2, '');
    }
    let p: Promise<unknown>;
    try {
      p = call(keys.length, ...keys, ...args);
    } catch (e) {
      p = Promise.reject(e);
    }
    onSent(ops.length, p);
    p.then(
      (v) => {
        for (const q of ops) q.resolve(v);
      },
      (e) => {
        for (const q of ops) q.reject(e);
      },
    );
  }

  return {
    send(op) {
      return new Promise((resolve, reject) => {
        if (queued.length === 0) setImmediate(flush);
        queued.push({ op, resolve, reject });
      });
    },
  };
}
