// The `quarantine:` section: how long held messages (the spool's hold/, see docs/operations.md) are kept.
// What goes in is decided elsewhere (DMARC p=quarantine, a spam-score band); this is only their keeping.
import { z } from 'zod';
import { duration } from './common.ts';

export const quarantineSection = z.strictObject({
  /** A quarantined message nobody released is deleted after this long (default 30d; never delivered, never bounced). */
  retention: duration.default(30 * 86_400_000),
  /**
   * The token the nodes' quarantine admin API (/-/quarantine on the metrics listener) asks of its callers: the
   * console and `moat quarantine` send it. Unset: that API is off (each node's spool is still reachable with
   * `moat quarantine --dir`). A secret: MOAT_QUARANTINE_TOKEN_FILE in containers.
   */
  admin_token: z.string().min(16, 'at least 16 characters (a random string: openssl rand -hex 24)').optional(),
});

export type QuarantineSection = z.infer<typeof quarantineSection>;
