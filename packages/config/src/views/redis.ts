// The one shared Redis store (greylist, journal, rate limits) as its clients connect to it: a URL, or Sentinels.
// Trusts the parsed config (the schema checked each host:port); parseHostPort is the one host:port reader.
import type { RedisTarget } from '@moat/redis';
import { parseHostPort } from '../host-port.ts';
import type { Config } from '../schema.ts';

/** @moat/redis's RedisTarget as moat.yaml can state it: URL or Sentinel mode (no cluster key); absent logins stay absent. */
export type RedisView = Exclude<RedisTarget, { cluster: unknown }>;

/** `greylist.redis`: its URL (credentials inside it), or Sentinels with a master name and both logins. */
export function redisView(cfg: Pick<Config, 'greylist'>): RedisView {
  const r = cfg.greylist.redis;
  if (r.sentinels.length === 0) return { url: r.url };
  return {
    name: r.name,
    sentinels: r.sentinels.map((hp, i) => parseHostPort(hp, { defaultHost: '', what: `greylist.redis.sentinels[${i}]` })),
    ...(r.username !== undefined && { username: r.username }),
    ...(r.password !== undefined && { password: r.password }),
    ...(r.sentinel_username !== undefined && { sentinelUsername: r.sentinel_username }),
    ...(r.sentinel_password !== undefined && { sentinelPassword: r.sentinel_password }),
  };
}
