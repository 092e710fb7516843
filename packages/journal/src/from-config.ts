// Where the journal lives, from moat.yaml: the greylist's Redis (the one shared store), the journal's own prefix.
// MOAT_JOURNAL_* environment variables tune it; the Redis URL may carry a password and is never logged.
import type { Config } from '@moat/config';
import { type RedisTarget, redisTargetFromConfig } from '@moat/redis';
import type { JournalOptions } from './journal.ts';
import { DEFAULT_PREFIX } from './keys.ts';

/** The Redis target the greylist uses (URL or Sentinel), so every node journals to the same place. */
export function journalRedisTarget(config: Config): RedisTarget {
  return redisTargetFromConfig(config.greylist.redis);
}

const positive = (v: string | undefined): number | undefined => (v && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : undefined);

/**
 * Journal options from config and environment: MOAT_JOURNAL_PREFIX (default `moat:{journal}:`),
 * MOAT_JOURNAL_MAXLEN (entries, default 100000), MOAT_JOURNAL_TTL (seconds, default 604800),
 * MOAT_JOURNAL_TIMEOUT (ms, default 250).
 */
export function journalOptionsFromConfig(
  config: Config,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Omit<JournalOptions, 'registry' | 'logger'> {
  return {
    redis: journalRedisTarget(config),
    prefix: env.MOAT_JOURNAL_PREFIX || DEFAULT_PREFIX,
    maxLen: positive(env.MOAT_JOURNAL_MAXLEN),
    ttlSeconds: positive(env.MOAT_JOURNAL_TTL),
    timeoutMs: positive(env.MOAT_JOURNAL_TIMEOUT),
    node: config.policy.hostname,
  };
}
