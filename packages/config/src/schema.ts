// The whole appliance's schema: one section per file under sections/, composed here.
// Adds the cross-section defaults (mx.hostname from policy.hostname, the shipped spam policy).
import { parseTableSpec, TableError } from '@moat/maps';
import { parseIp, parseRestrictions } from '@moat/policy';
import { z } from 'zod';
import type { PostfixReport } from './postfix/report.ts';
import { defaultRecipientRestrictionsText } from './default-policy.ts';
import { consoleSection } from './sections/console.ts';
import { dnsSection } from './sections/dns.ts';
import { greylistSection } from './sections/greylist.ts';
import { journalSection } from './sections/journal.ts';
import { metricsSection } from './sections/metrics.ts';
import { mxSection } from './sections/mx.ts';
import { policySection } from './sections/policy.ts';
import { policydSection } from './sections/policyd.ts';
import { postfixSection } from './sections/postfix.ts';
import { quarantineSection } from './sections/quarantine.ts';
import { queueSection } from './sections/queue.ts';
import { recipientsSection } from './sections/recipients.ts';
import { routingConflicts, routingSection } from './sections/routing.ts';
import { spamdSection } from './sections/spamd.ts';

export const configSchema = z
  .strictObject({
    /** Schema version of the file; only 1 exists. */
    version: z.literal(1).default(1),
    policy: policySection.prefault({} as never),
    recipients: recipientsSection.prefault({}),
    /** Postfix's address routing by its own parameter names; combined with `recipients:` (see docs/routing.md). */
    routing: routingSection.prefault({}),
    dns: dnsSection.prefault({}),
    greylist: greylistSection.prefault({}),
    mx: mxSection.prefault({}),
    spamd: spamdSection.prefault({}),
    queue: queueSection.prefault({}),
    quarantine: quarantineSection.prefault({}),
    policyd: policydSection.prefault({}),
    metrics: metricsSection.prefault({}),
    journal: journalSection.prefault({}),
    console: consoleSection.prefault({}),
    postfix: postfixSection.prefault({}),
  })
  .superRefine((c, ctx) => {
    const rc = c.recipients;
    const rt = c.routing;
    for (const issue of routingConflicts(rc, rt, c.policy.hostname)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    // a mail domain, from recipients: or from routing: beyond Postfix's defaults (which name only this host)
    const routingDomains =
      rt.relay_domains.length > 0 ||
      rt.virtual_alias_maps.length > 0 ||
      rt.virtual_mailbox_maps.length > 0 ||
      rt.virtual_alias_domains.some((d) => !d.startsWith('$')) ||
      rt.virtual_mailbox_domains.some((d) => !d.startsWith('$')) ||
      rt.mydestination.some((d) => !['$myhostname', 'localhost.$mydomain', 'localhost'].includes(d));
    if (rc.domains.length === 0 && rc.relay_domains.length === 0 && rc.catch_all.length === 0 && !routingDomains) {
      ctx.addIssue({ code: 'custom', path: ['recipients', 'domains'], message: 'expected at least one domain in recipients.domains (or recipients.relay_domains for a backup MX, or routing.mydestination)' });
    }
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
    const q = c.spamd.quarantine_threshold;
    if (q !== undefined && q >= c.spamd.reject_threshold) {
      ctx.addIssue({ code: 'custom', path: ['spamd', 'quarantine_threshold'], message: `expected a score below spamd.reject_threshold (${c.spamd.reject_threshold}), got ${q}: the quarantine band lies between the two` });
    }
    const lists = [
      ['relay_restrictions', c.policy.relay_restrictions],
      ['recipient_restrictions', c.policy.recipient_restrictions ?? []],
    ] as const;
    for (const [name, list] of lists) {
      list.forEach((r, i) => {
        if ((r.type === 'reject_dnsbl_score' || r.type === 'permit_dnsbl_score') && c.policy.dnsbl_sites.length === 0) {
          ctx.addIssue({ code: 'custom', path: ['policy', name], message: `item ${i + 1} (${r.type}): needs weighted DNS lists in policy.dnsbl_sites (postscreen_dnsbl_sites), and none are set`, params: { index: i + 1 } });
        }
        if (!('map' in r)) return;
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
  readonly source: {
    readonly file: string;
    readonly env: Readonly<Record<string, string>>;
    /** The imported main.cf, when postfix.main_cf names one: what took effect, what was ignored and why. */
    readonly postfix?: PostfixReport | undefined;
  };
};

/** What may be written in moat.yaml (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
