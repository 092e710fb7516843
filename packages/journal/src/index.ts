// The decision journal shared by every node: each decision with its facts and full trace, in a capped Redis stream.
// Trusts the Redis it is given; writes fail open (fire-and-forget under a timeout), reads may throw.
export { createJournal, type Journal, type JournalOptions, type RecordExtras, type RecentQuery, type RedisTarget } from './journal.ts';
export { JournalConfigError, JournalTimeoutError, JournalWriteError } from './errors.ts';
export { encodeEntry, decodeEntry, type JournalEntry } from './entry.ts';
export { lookupFailed, summarize, zoneOfTrace, type JournalSummary, type ZoneCounts } from './summary.ts';
export { journalOptionsFromConfig, journalRedisTarget } from './from-config.ts';
export { DEFAULT_PREFIX, prefixHashTag, streamKey, sessionKey, queueKey } from './keys.ts';
