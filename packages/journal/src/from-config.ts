// Where the journal lives, from moat.yaml: the greylist's Redis (the one shared store), the journal's own prefix.
// `journal:` (or MOAT_JOURNAL_*) tunes it; the Redis URL may carry a password and is never logged.
import { type Config, views } from '@moat/config';
import type { RedisTarget } from '@moat/redis';
import type { JournalOptions } from './journal.ts';

/** The Redis target the greylist uses (URL or Sentinel), so every node journals to the same place. */
export function journalRedisTarget(config: Config): RedisTarget {
  return views.redis(config);
}

/** Journal options from config (`journal:`, which MOAT_JOURNAL_* set); an unset key keeps the journal's default. */
export function journalOptionsFromConfig(config: Config): Omit<JournalOptions, 'registry' | 'logger'> {
  const j = config.journal;
  return {
    redis: journalRedisTarget(config),
    prefix: j.prefix,
    maxLen: j.max_len,
    ttlMs: j.ttl,
    timeoutMs: j.timeout,
    node: config.policy.hostname,
  };
}
