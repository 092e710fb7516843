// The `postfix:` section: a Postfix main.cf whose keys moat reads under moat.yaml (moat.yaml's keys win).
// The file is read by the loader (load.ts), relative to the config file; nothing here opens it.
import { z } from 'zod';

export const postfixSection = z.strictObject({
  /** A Postfix main.cf (e.g. /etc/postfix/main.cf) to import: see docs/postfix-keys.md. Unset: none. */
  main_cf: z.string().min(1).optional(),
});

export type PostfixSection = z.infer<typeof postfixSection>;
