// The `quarantine:` section: how long held messages (the spool's hold/, see docs/operations.md) are kept.
// What goes in is decided elsewhere (DMARC p=quarantine, a spam-score band); this is only their keeping.
import { z } from 'zod';
import { duration } from './common.ts';

export const quarantineSection = z.strictObject({
  /** A quarantined message nobody released is deleted after this long (default 30d; never delivered, never bounced). */
  retention: duration.default(30 * 86_400_000),
});

export type QuarantineSection = z.infer<typeof quarantineSection>;
