// The `greylist:` section: the shared Redis store, the timing, and who skips greylisting.
// The Redis URL may carry a password: set it through MOAT_REDIS_URL rather than in the file.
import { z } from 'zod';
import { duration, hostPort, network } from './common.ts';

export const greylistSection = z.strictObject({
  redis: z
    .strictObject({
      /** redis://[:password@]host:port/db; used unless `sentinels` is set. */
      url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
      /** Redis Sentinel addresses (host:port); with `name`, the master is found through them. */
      sentinels: z.array(hostPort).default([]),
      /** The Sentinel master name. */
      name: z.string().default('moat'),
      /** Key prefix, so several appliances can share one Redis. */
      prefix: z.string().default('moat:grey:'),
    })
    .prefault({}),
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
