// The `greylist:` section: the shared Redis store, the timing, and who skips greylisting.
// Redis secrets (the URL's password, or the Sentinel-mode passwords) belong in MOAT_REDIS_* variables, not the file.
import { z } from 'zod';
import { duration, hostPort, network } from './common.ts';

const secret = z.string().min(1, 'expected a non-empty password (leave the key out for none)');
const aclUser = z.string().regex(/^[^\s]+$/, 'expected a Redis ACL user name (no spaces)');

/** Whether the URL names a user or carries a password, read the way ioredis reads it (WHATWG URL). */
function urlCredentials(url: string): { username: boolean; password: boolean } {
  try {
    const u = new URL(url);
    return { username: u.username !== '', password: u.password !== '' };
  } catch {
    return { username: false, password: false };
  }
}

/**
 * `greylist.redis`: one place per mode for each credential, so no password is ever silently ignored.
 * URL mode: the URL's own `user:password@`. Sentinel mode: `username`/`password` for the master and its
 * replicas, `sentinel_username`/`sentinel_password` for the Sentinels (their own `requirepass` or ACL user).
 */
const redisSection = z
  .strictObject({
    /** redis://[[user]:password@]host:port/db; used unless `sentinels` is set. */
    url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
    /** Redis Sentinel addresses (host:port); with `name`, the master is found through them. */
    sentinels: z.array(hostPort).default([]),
    /** The Sentinel master name. */
    name: z.string().default('moat'),
    /** Sentinel mode: the master's and replicas' password (their `requirepass`, the Sentinels' `auth-pass`). MOAT_REDIS_PASSWORD. */
    password: secret.optional(),
    /** Sentinel mode: a Redis 6 ACL user on the master and replicas (needs `password`). MOAT_REDIS_USERNAME. */
    username: aclUser.optional(),
    /** Sentinel mode: the Sentinels' own password (their `requirepass`). MOAT_REDIS_SENTINEL_PASSWORD. */
    sentinel_password: secret.optional(),
    /** Sentinel mode: an ACL user on the Sentinels (needs `sentinel_password`). MOAT_REDIS_SENTINEL_USERNAME. */
    sentinel_username: aclUser.optional(),
    /** Key prefix, so several appliances can share one Redis. */
    prefix: z.string().default('moat:grey:'),
  })
  .superRefine((r, ctx) => {
    const inUrl = urlCredentials(r.url);
    if (r.sentinels.length === 0) {
      // URL mode: the URL is the one place for credentials
      for (const key of ['password', 'username'] as const) {
        if (r[key] === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: inUrl.password
            ? `set twice: greylist.redis.url already carries a password; ${key} is for Sentinel mode (greylist.redis.sentinels) only, remove one of them`
            : `only used with greylist.redis.sentinels; without Sentinels put it in the URL: redis://${key === 'username' ? 'USER' : ''}:PASSWORD@host:port (MOAT_REDIS_URL)`,
        });
      }
      for (const key of ['sentinel_password', 'sentinel_username'] as const) {
        if (r[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only used with greylist.redis.sentinels (the Sentinels\' own login)' });
      }
      return;
    }
    // Sentinel mode: the URL is not used, so credentials in it would be dropped without a word
    if (inUrl.password || inUrl.username) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'not used with greylist.redis.sentinels, so its credentials would be ignored: set greylist.redis.password (MOAT_REDIS_PASSWORD) and drop them from the URL',
      });
    }
    if (r.username !== undefined && r.password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'an ACL user needs greylist.redis.password (MOAT_REDIS_PASSWORD)' });
    }
    if (r.sentinel_username !== undefined && r.sentinel_password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sentinel_username'], message: 'an ACL user needs greylist.redis.sentinel_password (MOAT_REDIS_SENTINEL_PASSWORD)' });
    }
  });

export const greylistSection = z.strictObject({
  redis: redisSection.prefault({}),
  /** Minimum time before a retry passes (the seed: 1 minute). */
  delay: duration.default(60_000),
  /** How long a first attempt is remembered, waiting for its retry. */
  retry_window: duration.default(2 * 86_400_000),
  /** How long a passed triplet stays known without new mail (postgrey: 35 days). */
  confirmed_ttl: duration.default(35 * 86_400_000),
  /** After this many passed triplets a client network skips greylisting (postgrey --auto-whitelist-clients). */
  auto_whitelist_count: z.number().int().min(0).default(5),
  /** Clients are grouped by network, since big senders retry from a neighbour address. */
  network_prefix: z.strictObject({ v4: z.number().int().min(0).max(32).default(24), v6: z.number().int().min(0).max(128).default(64) }).prefault({}),
  /** Store timeout: past it the greylist passes (fail open, as the seed's servers do). */
  timeout: duration.default(200),
  whitelist: z
    .strictObject({
      /** Client networks or addresses that are never greylisted (the seed's "add the /24"). */
      clients: z.array(network).default([]),
      /** Client hostname patterns: `example.com` (and subdomains) or a `/regexp/`. */
      client_names: z.array(z.string()).default([]),
      /** Recipients (`user@domain`, `domain`, `user@`) that are never greylisted (e.g. postmaster@). */
      recipients: z.array(z.string()).default([]),
    })
    .prefault({}),
});

export type GreylistSection = z.infer<typeof greylistSection>;
