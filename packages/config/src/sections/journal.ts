// The `journal:` section: tuning of the shared decision journal (it lives in greylist.redis).
// Unset keys keep @moat/journal's own defaults (one place); usually set by MOAT_JOURNAL_*.
import { z } from 'zod';
import { duration } from './common.ts';

export const journalSection = z.strictObject({
  /** Redis key prefix (default `moat:{journal}:`; keep a hash tag: on Redis Cluster @moat/journal refuses a prefix without one). */
  prefix: z.string().min(1).optional(),
  /** Entries kept at most (default 100000). */
  max_len: z.number().int().min(1).optional(),
  /** How long entries are kept (default 7 days). */
  ttl: duration.optional(),
  /** How long one append may take before it counts as a timeout (default 250ms). */
  timeout: duration.optional(),
});

export type JournalSection = z.infer<typeof journalSection>;
