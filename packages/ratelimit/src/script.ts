// The one Lua script a check runs (EVALSHA, NOSCRIPT falls back to EVAL): count every counter of one event, compare, expire.
// Trusts its ARGV (built by limiter.ts); time is Redis's own TIME unless the caller injects one.

/**
 * Postfix anvil's fixed window (anvil.c ANVIL_REMOTE_INCR_RATE): a counter's window starts at its first
 * event and the count restarts at the first event after `start + unit < now`. Events over the limit are
 * counted too ("regardless of whether or not Postfix actually accepts those"), as anvil does.
 *
 * KEYS: the counters of one event (hashes, one hash tag).
 * ARGV[1]: now in seconds ('' = Redis TIME); then six per key: increment (0 = only look), threshold
 * (over when count > threshold), window seconds, who (shown by list()), limit name, refuses (1: being over
 * refuses this command, so it is counted in x; 0: a count only, e.g. a failed AUTH already answered).
 * Returns { now, count_1, over_1, start_1, count_2, ... }.
 */
export const CHECK_LUA = `
local now = tonumber(ARGV[1])
if not now then
  now = tonumber(redis.call('TIME')[1])
end
local out = { now }
for i, key in ipairs(KEYS) do
  local b = 1 + (i - 1) * 6
  local inc = tonumber(ARGV[b + 1])
  local limit = tonumber(ARGV[b + 2])
  local unit = tonumber(ARGV[b + 3])
  local h = redis.call('HMGET', key, 's', 'n')
  local s = tonumber(h[1])
  local n = tonumber(h[2]) or 0
  if s == nil or s + unit < now then
    if s ~= nil and inc > 0 then redis.call('DEL', key) end
    s = now
    n = 0
  end
  if inc > 0 then
    n = n + inc
    redis.call('HSET', key, 's', s, 'n', n, 'l', limit, 'u', unit, 'w', ARGV[b + 4], 'k', ARGV[b + 5])
    redis.call('EXPIRE', key, s + unit - now + 2)
  end
  local over = 0
  if n > limit then
    over = 1
    if ARGV[b + 6] == '1' then
      redis.call('HINCRBY', key, 'x', 1)
      redis.call('HSET', key, 'lx', now)
    end
  end
  out[#out + 1] = n
  out[#out + 1] = over
  out[#out + 1] = s
end
return out
`;
