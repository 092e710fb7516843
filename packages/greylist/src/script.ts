// The one Lua script a decision runs (EVALSHA, NOSCRIPT falls back to EVAL): read, decide, count, expire.
// Trusts its ARGV (built by store.ts); time is Redis's own TIME unless the caller injects one.
// A dry run (peek) walks the same branches and returns the same reply, with every write skipped.

/**
 * KEYS[1] triplet hash, KEYS[2] identity auto-whitelist hash (same hash tag).
 * ARGV: now ('' = use TIME), delay, retryWindow, confirmedTtl, awlThreshold (0 = off), awlTtl,
 *       awlMinInterval, sender, recipient, clientAddress, clientName, dry ('1' = write nothing).
 * Returns { action, seconds, now, attempts, firstSeen }:
 *   'defer' seconds = wait left; 'retry' seconds = how long it was delayed;
 *   'known' (confirmed triplet) and 'awl' (auto-whitelisted identity) seconds = 0 / the AWL count.
 * Triplet fields: first, last, n (sightings), pass (first pass), lastpass, passes, s, r, c, h.
 * AWL fields: n (counted deliveries), first, last (last counted or whitelisted pass), hits.
 */
export const DECIDE_LUA = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1])
end
local delay = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local confirmed = tonumber(ARGV[4])
local awlN = tonumber(ARGV[5])
local awlTtl = tonumber(ARGV[6])
local awlGap = tonumber(ARGV[7])
local dry = ARGV[12] == '1'
-- Every write goes through w(): in a dry run it is skipped, and the reply is built from what was read.
local function w(...)
  if not dry then return redis.call(...) end
end

if awlN > 0 then
  local a = redis.call('HMGET', KEYS[2], 'n', 'last')
  local n = tonumber(a[1]) or 0
  local last = tonumber(a[2]) or 0
  if n > 0 and now - last > awlTtl then
    w('DEL', KEYS[2])
  elseif n >= awlN then
    w('HSET', KEYS[2], 'last', now)
    w('HINCRBY', KEYS[2], 'hits', 1)
    w('EXPIRE', KEYS[2], awlTtl)
    return {'awl', n, now, 0, 0}
  end
end

local function countDelivery()
  if awlN <= 0 or dry then return end
  local a = redis.call('HMGET', KEYS[2], 'n', 'last')
  local last = tonumber(a[2])
  -- One count per delivery burst: several recipients or MX hosts of one message count once.
  if a[1] and last and now >= last and now - last < awlGap then return end
  redis.call('HINCRBY', KEYS[2], 'n', 1)
  redis.call('HSET', KEYS[2], 'last', now)
  redis.call('HSETNX', KEYS[2], 'first', now)
  redis.call('EXPIRE', KEYS[2], awlTtl)
end

local function fresh()
  w('DEL', KEYS[1])
  w('HSET', KEYS[1], 'first', now, 'last', now, 'n', 1, 's', ARGV[8], 'r', ARGV[9], 'c', ARGV[10], 'h', ARGV[11])
  w('EXPIRE', KEYS[1], window)
  return {'defer', delay, now, 1, now}
end

local t = redis.call('HMGET', KEYS[1], 'first', 'pass', 'lastpass', 'n')
local first = tonumber(t[1])
local pass = tonumber(t[2])
local lastpass = tonumber(t[3]) or pass
local function sighting()
  if dry then return (tonumber(t[4]) or 0) + 1 end
  return redis.call('HINCRBY', KEYS[1], 'n', 1)
end
if not first then return fresh() end

if pass then
  if now - lastpass > confirmed then return fresh() end
  local n = sighting()
  w('HINCRBY', KEYS[1], 'passes', 1)
  w('HSET', KEYS[1], 'last', now, 'lastpass', now, 'c', ARGV[10], 'h', ARGV[11])
  w('EXPIRE', KEYS[1], confirmed)
  countDelivery()
  return {'known', 0, now, n, first}
end

local elapsed = now - first
if elapsed < 0 then elapsed = 0 end
if elapsed > window then return fresh() end
local n = sighting()
w('HSET', KEYS[1], 'last', now, 'c', ARGV[10], 'h', ARGV[11])
if elapsed < delay then
  -- The TTL still counts from first sight: an unconfirmed triplet lives one retry window.
  return {'defer', delay - elapsed, now, n, first}
end
w('HSET', KEYS[1], 'pass', now, 'lastpass', now)
w('HINCRBY', KEYS[1], 'passes', 1)
w('EXPIRE', KEYS[1], confirmed)
countDelivery()
return {'retry', elapsed, now, n, first}
`;
