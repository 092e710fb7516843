// The whole appliance's schema: one section per file under sections/, composed here.
// Adds the cross-section defaults (mx.hostname from policy.hostname, the shipped spam policy).
import { parseTableSpec, TableError } from '@moat/maps';
import { parseIp, parseRestrictions } from '@moat/policy';
import { z } from 'zod';
import { defaultRecipientRestrictionsText } from './default-policy.ts';
import { dnsSection } from './sections/dns.ts';
import { greylistSection } from './sections/greylist.ts';
import { metricsSection } from './sections/metrics.ts';
import { mxSection } from './sections/mx.ts';
import { policySection } from './sections/policy.ts';
import { policydSection } from './sections/policyd.ts';
import { queueSection } from './sections/queue.ts';
import { recipientsSection } from './sections/recipients.ts';
import { spamdSection } from './sections/spamd.ts';

export const configSchema = z
  .strictObject({
    /** Schema version of the file; only 1 exists. */
    version: z.literal(1).default(1),
    policy: policySection.prefault({} as never),
    recipients: recipientsSection.prefault({}),
    dns: dnsSection.prefault({}),
    greylist: greylistSection.prefault({}),
    mx: mxSection.prefault({}),
    spamd: spamdSection.prefault({}),
    queue: queueSection.prefault({}),
    policyd: policydSection.prefault({}),
    metrics: metricsSection.prefault({}),
  })
  .superRefine((c, ctx) => {
    c.policy.my_addresses.forEach((a, i) => {
      if (!parseIp(a)) ctx.addIssue({ code: 'custom', path: ['policy', 'my_addresses', i], message: 'expected an IP address (IPv4 or IPv6, no brackets)' });
    });
    if (c.policy.client_access !== undefined) {
      try {
        parseTableSpec(c.policy.client_access);
      } catch (e) {
        if (!(e instanceof TableError)) throw e;
        ctx.addIssue({ code: 'custom', path: ['policy', 'client_access'], message: e.message });
      }
    }
    const lists = [
      ['relay_restrictions', c.policy.relay_restrictions],
      ['recipient_restrictions', c.policy.recipient_restrictions ?? []],
    ] as const;
    for (const [name, list] of lists) {
      list.forEach((r, i) => {
        if (r.type !== 'check_client_access') return;
        try {
          parseTableSpec(r.map);
        } catch (e) {
          if (!(e instanceof TableError)) throw e;
          ctx.addIssue({ code: 'custom', path: ['policy', name], message: `item ${i + 1} (${r.map}): ${e.message}`, params: { index: i + 1 } });
        }
      });
    }
  })
  .transform((c) => ({
    ...c,
    policy: {
      ...c.policy,
      recipient_restrictions: c.policy.recipient_restrictions ?? parseRestrictions(defaultRecipientRestrictionsText(c.policy.client_access)),
    },
    mx: { ...c.mx, hostname: c.mx.hostname ?? c.policy.hostname },
  }));

type DeepReadonly<T> = T extends (infer U)[] ? ReadonlyArray<DeepReadonly<U>> : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The parsed, defaulted, frozen configuration. Durations are milliseconds. */
export type Config = DeepReadonly<z.output<typeof configSchema>> & {
  /** Where it came from: the file (for relative paths) and which keys the environment set. */
  readonly source: { readonly file: string; readonly env: Readonly<Record<string, string>> };
};

/** What may be written in moat.yaml (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
