// The `dns:` section: where DNS-list queries go and how long they may take.
// The default resolver is the bundled Unbound in the stack; never a public resolver.
import { z } from 'zod';
import { duration, resolverAddress } from './common.ts';

export const dnsSection = z.strictObject({
  /** The resolver for DNS lists (and every other question): the stack's bundled Unbound by default. `IP[:port]`, `[v6][:port]`. */
  resolver: resolverAddress.default('127.0.0.1:53'),
  /** Per-query timeout. */
  timeout: duration.default(1500),
  /** Budget for all the lists of one decision together (they are queried concurrently). */
  budget: duration.default(3000),
  /** Per-zone overrides and provider profiles (owned by @moat/dnslist; free-form until it defines them). */
  zones: z.record(z.string(), z.unknown()).default({}),
  profiles: z.record(z.string(), z.unknown()).default({}),
});

export type DnsSection = z.infer<typeof dnsSection>;
