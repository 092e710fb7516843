// The journal's writes of one event-loop turn as few Lua calls: every append and queue-id link queued in the turn,
// in order, in one EVALSHA per MAX_OPS writes (not one command per decision). Trusts its caller's keys.
import type { RedisClient } from '@moat/redis';
import { JournalWriteError } from './errors.ts';

/** One write: an append (the stream key, then its index lists) or a link (session list, queue list). */
export type JournalOp = { kind: 'append'; keys: string[]; json: string; trim: boolean } | { kind: 'link'; keys: [string, string] };

/** Writes per script call: one call runs at most ~4 commands a write, so it never blocks the Redis the greylist
 * shares for long; a busier turn sends several calls, in order. */
export const MAX_OPS = 64;

// KEYS: each op's keys in op order. ARGV: maxlen, ttl, index cap, trim-by-age flag, then per op: kind, key count, json.
// Every command runs under redis.pcall: one write's error (WRONGTYPE on its key) skips the rest of that write only,
// never the other writes. Returns one slot per op: 'ok' or that op's first error.
// The stream's EXPIRE and the age trim run once per call (same end state as once per append).
const BATCH_LUA = `
local maxlen, ttl, cap = ARGV[1], ARGV[2], tonumber(ARGV[3])
local k, a, appended, out = 1, 5, false, {}
local function run(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then error({ failed = r.err }) end
  return r
end
while a <= #ARGV do
  local n = tonumber(ARGV[a + 1])
  local ok, e = pcall(function()
    if ARGV[a] == 'a' then
      local id = run('XADD', KEYS[k], 'MAXLEN', '~', maxlen, '*', 'j', ARGV[a + 2])
      if not appended then appended = k end
      for i = k + 1, k + n - 1 do
        run('RPUSH', KEYS[i], id)
        run('LTRIM', KEYS[i], -cap, -1)
        run('EXPIRE', KEYS[i], ttl)
      end
    else
      local ids = run('LRANGE', KEYS[k], 0, -1)
      if #ids > 0 then
        run('DEL', KEYS[k + 1])
        run('RPUSH', KEYS[k + 1], unpack(ids))
        run('LTRIM', KEYS[k + 1], -cap, -1)
        run('EXPIRE', KEYS[k + 1], ttl)
      end
    end
  end)
  if ok then
    out[#out + 1] = 'ok'
  elseif type(e) == 'table' and e.failed then
    out[#out + 1] = e.failed
  else
    out[#out + 1] = tostring(e)
  end
  k = k + n
  a = a + 3
end
if appended then
  redis.pcall('EXPIRE', KEYS[appended], ttl)
  if ARGV[4] == '1' then
    local t = redis.call('TIME')
    local minid = (tonumber(t[1]) - tonumber(ttl)) * 1000
    if minid > 0 then redis.pcall('XTRIM', KEYS[appended], 'MINID', '~', tostring(minid)) end
  end
end
return out
`;

type BatchCommand = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export interface Batcher {
  /** Queue `op` for this turn's call; resolves when Redis applied it, rejects with its own error (JournalWriteError)
   * or, when the whole call failed (connection, script), with the call's. */
  send(op: JournalOp): Promise<void>;
}

type Queued = { op: JournalOp; resolve: () => void; reject: (e: unknown) => void };

/**
 * `onSent` hears of each call sent and how many ops it carries (the pending count). Ops are queued until the end of
 * the current turn (setImmediate: after the poll phase's socket reads, so the decisions of every session served in
 * the turn share the call), or until MAX_OPS are queued, then sent as one script call.
 */
export function createBatcher(
  redis: RedisClient,
  limits: { maxLen: number; ttl: number; indexCap: number },
  onSent: (ops: number, call: Promise<unknown>) => void,
): Batcher {
  redis.defineCommand('moatJournalBatch', { lua: BATCH_LUA });
  const call = (redis as unknown as { moatJournalBatch: BatchCommand }).moatJournalBatch.bind(redis);
  let queued: Queued[] = [];
  let scheduled = false;

  function flush(): void {
    if (queued.length === 0) return;
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
      (slots) => settle(ops, slots),
      (e) => {
        for (const q of ops) q.reject(e);
      },
    );
  }

  return {
    send(op) {
      return new Promise((resolve, reject) => {
        queued.push({ op, resolve, reject });
        if (queued.length >= MAX_OPS) flush();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            flush();
          });
        }
      });
    },
  };
}

/** Each op from its own slot of the script's answer. */
function settle(ops: Queued[], slots: unknown): void {
  if (!Array.isArray(slots) || slots.length !== ops.length) {
    const e = new JournalWriteError(`journal batch: unexpected reply for ${ops.length} writes`);
    for (const q of ops) q.reject(e);
    return;
  }
  ops.forEach((q, i) => {
    const slot = slots[i];
    if (slot === 'ok') q.resolve();
    else q.reject(new JournalWriteError(`journal ${q.op.kind}: ${String(slot)}`));
  });
}
