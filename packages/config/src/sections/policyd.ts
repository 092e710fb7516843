// The `policyd:` section: the Postfix check_policy_service server running the same engine.
// Listens on loopback by default: Postfix on the same host is its only intended client.
import { z } from 'zod';
import { duration, listenAddress } from './common.ts';

export const policydSection = z.strictObject({
  enabled: z.boolean().default(false),
  listen: listenAddress.default('127.0.0.1:10023'),
  /** Close a Postfix connection idle this long (Postfix's own max_idle is 100s). */
  idle_timeout: duration.default(120_000),
  max_connections: z.number().int().min(1).default(100),
  /**
   * Checks Postfix already does in its own restriction lists; the profile skips them in the engine
   * so they are not done twice.
   */
  skip: z
    .strictObject({
      helo: z.boolean().default(false),
      sender: z.boolean().default(false),
      recipients: z.boolean().default(false),
      relay: z.boolean().default(true),
    })
    .prefault({}),
});

export type PolicydSection = z.infer<typeof policydSection>;
