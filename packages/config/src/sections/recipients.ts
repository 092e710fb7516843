// The `recipients:` section: the domains we host or back up, their users, catch-alls.
// Trusts the admin; a users file is read by compileConfig, not here.
import { z } from 'zod';
import { hostname } from './common.ts';

export const recipientsSection = z
  .strictObject({
    /** Domains we host (Postfix mydestination + virtual_alias_domains): unknown users are refused. */
    domains: z.array(hostname).default([]),
    /** Domains we are a backup MX for (relay_domains): any user accepted, queued for their primary. */
    relay_domains: z.array(hostname).default([]),
    /** Existing addresses, `user@domain`. */
    users: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address user@domain')).default([]),
    /** A file with one address per line (`#` comments), read at load; relative to the config file. */
    users_file: z.string().optional(),
    /** Hosted domains that accept every local part (hosted even if not repeated in `domains`). */
    catch_all: z.array(hostname).default([]),
    /** Address extension delimiter: `user+tag@domain` is delivered to `user@domain`. '' disables. */
    recipient_delimiter: z.string().max(4).default('+'),
  })
  ;
// "at least one domain" is checked in schema.ts: the domains may come from routing: (a main.cf's mydestination)

export type RecipientsSection = z.infer<typeof recipientsSection>;
