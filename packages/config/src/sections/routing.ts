// The `routing:` section: Postfix's address-routing parameters by their own names (ADDRESS_CLASS_README,
// transport(5), postconf(5)). Trusts nothing: names, table specs and transports are checked, files opened later.
import { DEFAULT_PARENT_DOMAIN_MATCHES_SUBDOMAINS } from '@moat/address';
import { z } from 'zod';

/** Postfix writes lists as text (`a, b c`); accept that as well as a YAML list. */
const postfixList = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter((x) => x !== '') : v), z.array(item));

/** A lookup table `type:name` (hash:/etc/postfix/virtual, inline:{...} kept whole), or a `$parameter` reference. */
const TABLE = /^(\$[a-z_]+|\$\{[a-z_]+\}|[a-z0-9]+:.+)$/;
const mapList = z.preprocess(
  (v) => (typeof v === 'string' ? splitPostfixList(v) : v),
  z.array(z.string().regex(TABLE, 'expected a lookup table type:name (e.g. hash:/etc/postfix/virtual) or a $parameter')),
);

/** A domain list item: `example.com`, `.example.com`, `!example.com`, `$myhostname`, `localhost.$mydomain`, or a table. */
const DOMAIN_ITEM = /^(!?\.?[A-Za-z0-9_$](?:[A-Za-z0-9_.${}-]*[A-Za-z0-9_}])?\.?|\[[0-9A-Fa-f:.]+\]|[a-z0-9]+:.+)$/;
const domainList = z.preprocess(
  (v) => (typeof v === 'string' ? splitPostfixList(v) : v),
  z.array(z.string().regex(DOMAIN_ITEM, 'expected a domain name, .domain, !domain, $parameter or lookup table type:name')),
);

/** A transport `transport[:nexthop]` as in main.cf (local, virtual, relay, smtp, lmtp, error, discard, maildir). */
const transportText = z.string().min(1, 'expected a transport such as smtp, relay, maildir:/path or lmtp:unix:/path');

/** Postfix booleans: yes/no (also true/false). */
const yesNo = z.union([z.boolean(), z.enum(['yes', 'no'])]).transform((v) => v === true || v === 'yes');

const limit = z.number().int().min(1);

/** Postfix's parent_domain_matches_subdomains default (one list: the address resolver's). */
const PARENT_DOMAIN_MATCHES_SUBDOMAINS_DEFAULT = [...DEFAULT_PARENT_DOMAIN_MATCHES_SUBDOMAINS];

export const routingSection = z.strictObject({
  /** Domains delivered locally (the local class). Postfix's default; `$myhostname` is policy.hostname. */
  mydestination: domainList.default(['$myhostname', 'localhost.$mydomain', 'localhost']),
  /**
   * Who exists in mydestination. Unset (moat's default): `$alias_maps` and nobody else but postmaster,
   * MAILER-DAEMON and double-bounce (Postfix's default also lists Unix accounts; moat has none).
   * Set to an empty list or '': every local part exists (Postfix with it empty).
   */
  local_recipient_maps: mapList.optional(),
  /** aliases(5) tables for the local class (Postfix default hash:/etc/aliases; moat: none). No |command, /file, :include:. */
  alias_maps: mapList.default([]),
  virtual_alias_domains: domainList.default(['$virtual_alias_maps']),
  virtual_alias_maps: mapList.default([]),
  virtual_mailbox_domains: domainList.default(['$virtual_mailbox_maps']),
  virtual_mailbox_maps: mapList.default([]),
  /** Backup-MX domains (Postfix compatibility_level >= 2 default: empty). Subdomains match (parent_domain_matches_subdomains). */
  relay_domains: domainList.default([]),
  relay_recipient_maps: mapList.default([]),
  transport_maps: mapList.default([]),
  /** Next hop for the relay and default classes: `[host]:port` (no MX lookup) or `host[:port]`. */
  relayhost: z.string().default(''),
  /** Unset: queue.transport (moat's maildir). `local`/`local:...` also means moat's own mailbox delivery. */
  local_transport: transportText.optional(),
  /** Unset: queue.transport. `virtual` also means moat's own mailbox delivery. */
  virtual_transport: transportText.optional(),
  relay_transport: transportText.default('relay'),
  default_transport: transportText.default('smtp'),
  /** Unset: recipients.recipient_delimiter (moat's '+'; Postfix's default is none). */
  recipient_delimiter: z.string().max(8).optional(),
  virtual_alias_recursion_limit: limit.default(1000),
  virtual_alias_expansion_limit: limit.default(1000),
  smtpd_reject_unlisted_recipient: yesNo.default(true),
  smtpd_reject_unlisted_sender: yesNo.default(false),
  parent_domain_matches_subdomains: postfixList(z.string().regex(/^[a-z_]+$/, 'expected a Postfix parameter name')).default(PARENT_DOMAIN_MATCHES_SUBDOMAINS_DEFAULT),
});

export type RoutingSection = z.infer<typeof routingSection>;
/** The section as Config holds it (frozen: readonly lists). */
type ReadonlyList<T> = T extends (infer U)[] ? readonly U[] : T;
type RoutingView = { readonly [K in keyof RoutingSection]: ReadonlyList<RoutingSection[K]> };

/** Splits a Postfix list on commas and white space, keeping `inline:{ a=b, c=d }` whole. */
export function splitPostfixList(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const c of text) {
    if (c === '{') depth++;
    if (c === '}') depth = Math.max(0, depth - 1);
    if (depth === 0 && (c === ',' || /\s/.test(c))) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

export interface RoutingIssue {
  path: (string | number)[];
  message: string;
}

/**
 * How `recipients:` and `routing:` combine, and where they may not: recipients.domains and catch_all are
 * virtual mailbox domains, recipients.relay_domains are relay domains (exact names, as before); a domain
 * may not be in two classes at once, and the two recipient_delimiter settings may not disagree.
 */
export function routingConflicts(
  recipients: { domains: readonly string[]; catch_all: readonly string[]; relay_domains: readonly string[]; recipient_delimiter: string },
  routing: RoutingView,
  myhostname: string,
): RoutingIssue[] {
  const out: RoutingIssue[] = [];
  const norm = (d: string) => d.toLowerCase().replace(/^@/, '').replace(/\.$/, '');
  const mydomain = myhostname.includes('.') ? myhostname.slice(myhostname.indexOf('.') + 1) : myhostname;
  const names = (list: readonly string[]) =>
    new Set(list.filter((d) => !/^[a-z0-9]+:/.test(d) && !d.startsWith('!') && !/^\$[a-z_]+$/.test(d)).map((d) => norm(d.replace(/\$\{?myhostname\}?/g, myhostname).replace(/\$\{?mydomain\}?/g, mydomain))));
  const hosted = new Set([...recipients.domains, ...recipients.catch_all].map(norm));
  const relay = new Set(recipients.relay_domains.map(norm));
  for (const d of hosted) {
    if (relay.has(d)) out.push({ path: ['recipients', 'relay_domains'], message: `${d} is both hosted (recipients.domains/catch_all) and a relay domain` });
  }
  const classes: Array<[string, Set<string>]> = [
    // Only names the admin wrote: Postfix's default forms ($myhostname, localhost.$mydomain) give way to
    // recipients: (compileRouting drops such a domain from mydestination).
    ['mydestination', names(routing.mydestination.filter((d) => !d.includes('$')))],
    ['virtual_alias_domains', names(routing.virtual_alias_domains)],
    ['relay_domains', names(routing.relay_domains)],
    ['virtual_mailbox_domains', names(routing.virtual_mailbox_domains)],
  ];
  for (const [param, set] of classes) {
    for (const d of hosted) {
      if (param !== 'virtual_mailbox_domains' && set.has(d)) {
        out.push({ path: ['routing', param], message: `${d} is in recipients.domains (a virtual mailbox domain) and in routing.${param}: one class per domain` });
      }
    }
    for (const d of relay) {
      if (param !== 'relay_domains' && set.has(d)) out.push({ path: ['routing', param], message: `${d} is in recipients.relay_domains and in routing.${param}: one class per domain` });
    }
  }
  if (routing.recipient_delimiter !== undefined && recipients.recipient_delimiter !== '+' && routing.recipient_delimiter !== recipients.recipient_delimiter) {
    out.push({
      path: ['routing', 'recipient_delimiter'],
      message: `routing.recipient_delimiter ${JSON.stringify(routing.recipient_delimiter)} disagrees with recipients.recipient_delimiter ${JSON.stringify(recipients.recipient_delimiter)}: set one`,
    });
  }
  return out;
}

/**
 * Postfix's "helpful warnings" about routing (trivial-rewrite's "do not list domain X in BOTH ..."), plus the
 * backup-MX advice of ADDRESS_CLASS_README. Advice on a valid config, printed by `moat config check`.
 */
export function lintRouting(routing: RoutingView, recipients: { relay_domains: readonly string[] }, myhostname: string): RoutingIssue[] {
  const out: RoutingIssue[] = [];
  const mydomain = myhostname.includes('.') ? myhostname.slice(myhostname.indexOf('.') + 1) : myhostname;
  const names = (list: readonly string[]) =>
    new Set(
      list
        .filter((d) => !/^[a-z0-9]+:/.test(d) && !d.startsWith('!') && !/^\$\{?[a-z_]+\}?$/.test(d))
        .map((d) => d.replace(/\$\{?myhostname\}?/g, myhostname).replace(/\$\{?mydomain\}?/g, mydomain).toLowerCase().replace(/\.$/, '')),
    );
  const lists: Array<[string, Set<string>]> = [
    ['mydestination', names([...routing.mydestination.map((d) => (/^\$\{?myhostname\}?$/.test(d) ? myhostname : d))])],
    ['virtual_alias_domains', names(routing.virtual_alias_domains)],
    ['virtual_mailbox_domains', names(routing.virtual_mailbox_domains)],
    ['relay_domains', names(routing.relay_domains)],
  ];
  for (let i = 0; i < lists.length; i++) {
    for (let j = i + 1; j < lists.length; j++) {
      const [a, sa] = lists[i] as [string, Set<string>];
      const [b, sb] = lists[j] as [string, Set<string>];
      for (const d of sa) if (sb.has(d)) out.push({ path: ['routing', b], message: `do not list domain ${d} in BOTH ${a} and ${b} (Postfix: the result is implementation defined)` });
    }
  }
  if ((routing.relay_domains.length > 0 || recipients.relay_domains.length > 0) && routing.relay_recipient_maps.length === 0) {
    out.push({ path: ['routing', 'relay_recipient_maps'], message: 'relay domains without relay_recipient_maps: every user is accepted and unknown ones bounce later (backscatter)' });
  }
  return out;
}
