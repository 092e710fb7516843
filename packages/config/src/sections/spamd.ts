// The `spamd:` section: the SpamAssassin daemon scanned at SMTP time, and what to do when it fails.
// The default host is the stack's spamd; the reply's score is trusted as spamd's verdict.
import { z } from 'zod';
import { duration, port } from './common.ts';

export const spamdSection = z.strictObject({
  enabled: z.boolean().default(true),
  host: z.string().default('127.0.0.1'),
  port: port.default(783),
  /** Connect timeout. */
  connect_timeout: duration.default(2000),
  /** Whole scan timeout. */
  timeout: duration.default(30_000),
  /** Score at or above which the message is refused at end of DATA (spamd's own threshold marks). */
  reject_threshold: z.number().default(10),
  /**
   * Score at or above which (and below reject_threshold) the message is held in the quarantine instead of
   * delivered. Unset: no quarantine band (the default). Must be below reject_threshold.
   */
  quarantine_threshold: z.number().optional(),
  /** Messages larger than this are not scanned (spamc's default is 500 KB). */
  max_size: z.number().int().min(1).default(512_000),
  /** When spamd is down or times out: accept the message unscanned, or tempfail (451). */
  on_failure: z.enum(['accept', 'tempfail']).default('accept'),
  /** Concurrent scans at most. */
  max_concurrency: z.number().int().min(1).default(8),
});

export type SpamdSection = z.infer<typeof spamdSection>;
