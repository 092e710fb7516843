// Vetted provider profiles: what each DNS list's answer codes mean, which are operator errors, and
// how its RFC 5782 test points behave. Data only; shipped defaults are never edited, operators add
// or override profiles through `createDnsList({ profiles })`. Trusts the operators' published docs.
//
// Sources (checked against stored copies of the pages and repositories below; "not verified" where
// no operator text was found, and the code was then left as it was):
// - spamhaus-zen: docs.spamhaus.com/datasets/docs/source/10-data-type-documentation/datasets/040-zones.html
//   (2,3,4 [5-7 unused],9,10,11, and 30 = BCL); error codes: spamhaus.org/news/article/788 (.254 open
//   resolver, .255 excess volume), securityzones.net/error-return-codes-for-spamhaus-public-mirrors
//   (.252 typo); rspamd/rspamd conf/modules.d/rbl.conf (same codes, .254/.255 as BLOCKED).
// - spamhaus-dbl: same zones page (127.0.1.2-6, 127.0.1.102-106, 127.0.1.255 = IP query refused);
//   rspamd/rspamd conf/modules.d/rbl.conf (DBL block, 127.255.255.254/.255 as BLOCKED).
// - dnswl, dnswl-dwl: haraka/haraka-plugin-dns-list config/dns-list.ini (categories 2-15 and 20, trust
//   0-3, after dnswl.org/?page_id=15); dnswl.org/?p=152 and the maintainer's post on
//   users@spamassassin.apache.org (msg107955: 127.0.0.255 "parentblock", "returnhi" for evaders);
//   rspamd/rspamd#4627 (returnhi answers 127.0.10.3); dnswl.org/?p=311 (dwl.dnswl.org is a domain list,
//   same codes, test entry dnswl.test -> 127.0.10.0); test point 2.0.0.127 -> 127.0.10.0 quoted in
//   mail-archive.com/community@mailsbestfriend.com/msg00263.html.
// - hostkarma: haraka/haraka-plugin-dns-list config/dns-list.ini (127.0.0.1-5, 127.0.1.1-3 QUIT
//   behaviour, 127.0.2.1-3 age; loopback_is_rejected); suped.com/learn/blocklists/junk-email-filter-
//   hostkarma-blacklist (colour meanings). The wiki page itself was found but its code list was not.
// - mailspike-bl, mailspike-wl: mailspike.org/usage.html (bl = z 127.0.0.2 + rep L3-L5; wl = H2-H5);
//   level table at suped.com/learn/blocklists/mailspike-reputation; rspamd/rspamd conf/modules.d/rbl.conf
//   and SpamAssassin 20_mailspike.cf (10-12 bad, 13 suspicious, 17-20 good).
// - barracuda: barracudacentral.org/rbl/how-to-use (zone b., 127.0.0.2 and the 127.0.0.2 test point).
//   bb.barracudacentral.org seen only in third-party tool output. Refusal codes for unregistered
//   resolvers: not verified.
// - psbl: psbl.surriel.com/howto (zone); 127.0.0.2 only from domaincare.io/blacklists/psbl (third party).
// - uceprotect: zone names in haraka/haraka-plugin-dns-list config/dns-list.ini and rspamd's rbl.conf;
//   answer code 127.0.0.2 and any refusal codes: not verified.
// - iadb: isipp.com/codelist.php (127.0.1.z vouched, 127.0.2.z member, 127.0.3.z bonded, 127.0.4.z
//   pledge, 127.1.y.z observed facts); apache/spamassassin rules/20_dnsbl_tests.cf (vouched 127.0.1.255
//   is a whitelisting). The opt-in code 127.3.100.z (from the seed) is not verified: the codelist puts
//   opt-in level at 127.2.100.z, while copied postscreen configs use 127.3.100.z.
// - gbudb: 127.0.0.2 and RFC 5782 test points from suped.com/learn/blocklists/gbudb-truncate-dnsbl
//   (third party); the operator page gbudb.com/truncate was not found.

/** A set of answer codes (a Postfix-syntax filter) and what they mean. */
export interface CodeRule {
  /** Postfix return-code filter, e.g. `127.0.0.[4..7]`. */
  codes: string;
  /** Human meaning, for the trace and the logs. */
  meaning: string;
  /**
   * Which use of the list this listing serves: `allow` codes only count for a whitelist query,
   * `block` codes only for a blacklist query. Unset: both (the list has one meaning).
   */
  use?: 'allow' | 'block' | undefined;
  /** Relative weight of this code (default 1). */
  weight?: number | undefined;
}

export interface HealthProbes {
  /** IPv4 test points: 127.0.0.2 listed, 127.0.0.1 not. Default: true for ip/both lists. */
  ipv4?: boolean | undefined;
  /** IPv6 test points ::FFFF:7F00:2 / ::FFFF:7F00:1 (only lists that serve IPv6). */
  ipv6?: boolean | undefined;
  /** Domain test points `test` listed, `invalid` not. Default: true for domain/both lists. */
  domain?: boolean | undefined;
  /** Skip the "must NOT list 127.0.0.1 / invalid" probe (lists that answer it on purpose). */
  skipNegative?: boolean | undefined;
  /**
   * Codes that count as "the test point is listed" although they are error codes for real
   * queries (dnswl answers its test point with 127.0.10.0).
   */
  positiveCodes?: string | undefined;
}

export interface ProviderProfile {
  /** Stable name used in config (`zones: { 'zen.example': { profile: 'spamhaus-zen' } }`). */
  name: string;
  title: string;
  /** Zone names this profile applies to by default (a zone matches itself or any zone ending `.<name>`). */
  zones: readonly string[];
  /** What keys the list takes: IP addresses, domains, or both. */
  kind: 'ip' | 'domain' | 'both';
  /** What a listing means: a blacklist, a whitelist, or both (code-dependent). */
  use: 'block' | 'allow' | 'mixed';
  /** Codes that are listings. Any other code is dropped ("not a listing") with a detail. */
  listings: readonly CodeRule[];
  /** Operator error answers: never listings, raise a zone-health warning. Checked first. */
  errors: readonly CodeRule[];
  /** Known informational codes: dropped quietly (no warning). */
  info?: readonly CodeRule[] | undefined;
  health: HealthProbes;
  /** Where the codes are documented. */
  reference: string;
}

/** Anything a DNS list answers outside 127.0.0.0/8 is a wildcard, a parked domain or a hijack. */
export const OUT_OF_RANGE = 'outside 127.0.0.0/8 (wildcard, parked or hijacked zone)';

const spamhausErrors: CodeRule[] = [
  { codes: '127.255.255.252', meaning: 'Spamhaus: typo in the DNSBL name' },
  { codes: '127.255.255.254', meaning: 'Spamhaus: query via a public/open resolver (refused)' },
  { codes: '127.255.255.255', meaning: 'Spamhaus: excessive number of queries (over quota)' },
  { codes: '127.255.255.[0..255]', meaning: 'Spamhaus: error code' },
];

const genericErrors: CodeRule[] = [
  { codes: '127.255.255.[0..255]', meaning: 'operator error code (127.255.255.x)' },
];

// dnswl.org answers 127.0.X.Y: X the category (2-15, 20; 10 is "special cases"), Y the trust,
// 0 (none) .. 3 (high). Undocumented categories are dropped, which for a whitelist fails safe.
const dnswlListings: CodeRule[] = [
  { codes: '127.0.[2..9].[0..3]', meaning: 'dnswl: listed (category 2-9)' },
  { codes: '127.0.[11..15].[0..3]', meaning: 'dnswl: listed (category 11-15)' },
  { codes: '127.0.20.[0..3]', meaning: 'dnswl: listed (category 20, self-service)' },
];

const dnswlErrors: CodeRule[] = [
  { codes: '127.0.0.255', meaning: 'dnswl: over the free-use quota (blocked)' },
  // "Return high": resolvers that keep exceeding the quota get 127.0.10.3 for everything, so the
  // seed's `127.0.[0..255].[2..3]` would whitelist anyone. Category 10 is therefore never a listing.
  { codes: '127.0.10.[0..255]', meaning: 'dnswl: 127.0.10.x answer (return-high/blocked resolver)' },
  ...genericErrors,
];

export const builtinProfiles: readonly ProviderProfile[] = [
  {
    name: 'spamhaus-zen',
    title: 'Spamhaus ZEN (SBL, CSS, XBL, PBL)',
    zones: ['zen.spamhaus.org', 'sbl-xbl.spamhaus.org', 'zen.dq.spamhaus.net'],
    kind: 'ip',
    use: 'block',
    listings: [
      { codes: '127.0.0.2', meaning: 'SBL: Spamhaus SBL data' },
      { codes: '127.0.0.3', meaning: 'CSS: Spamhaus CSS data' },
      { codes: '127.0.0.[4..7]', meaning: 'XBL: exploited host (CBL)' },
      { codes: '127.0.0.9', meaning: 'DROP: hijacked netblock' },
      { codes: '127.0.0.[10..11]', meaning: 'PBL: end-user address, should not send direct', weight: 0.5 },
      { codes: '127.0.0.30', meaning: 'BCL: botnet controller' },
    ],
    errors: spamhausErrors,
    health: { ipv4: true, ipv6: false },
    reference: 'https://www.spamhaus.org/faqs/dnsbl-usage/',
  },
  {
    name: 'spamhaus-dbl',
    title: 'Spamhaus DBL (domains)',
    zones: ['dbl.spamhaus.org', 'dbl.dq.spamhaus.net'],
    kind: 'domain',
    use: 'block',
    listings: [
      { codes: '127.0.1.[2..99]', meaning: 'DBL: spam/phish/malware/botnet domain' },
      { codes: '127.0.1.[102..199]', meaning: 'DBL: abused legitimate domain' },
    ],
    errors: [{ codes: '127.0.1.255', meaning: 'Spamhaus DBL: IP queries prohibited' }, ...spamhausErrors],
    health: { domain: true },
    reference: 'https://www.spamhaus.org/faqs/domain-blocklist/',
  },
  {
    name: 'dnswl',
    title: 'dnswl.org',
    zones: ['list.dnswl.org'],
    kind: 'ip',
    use: 'allow',
    listings: dnswlListings,
    errors: dnswlErrors,
    // Its own test point answers 127.0.10.0; a resolver blocked with "return high" also lists
    // 127.0.0.1, which the negative probe catches.
    health: { ipv4: true, positiveCodes: '127.0.10.[0..255]' },
    reference: 'https://www.dnswl.org/?page_id=15',
  },
  {
    // The domain list (DKIM d= / sender domains): same codes as list.dnswl.org, but keyed by name,
    // so probing it with 2.0.0.127 would fail and disable the zone.
    name: 'dnswl-dwl',
    title: 'dnswl.org domain whitelist',
    zones: ['dwl.dnswl.org'],
    kind: 'domain',
    use: 'allow',
    listings: dnswlListings,
    errors: dnswlErrors,
    // Its test entry is `dnswl.test` (answering 127.0.10.0), not the RFC 5782 `test`, which the probe
    // would ask for: no probes rather than a zone wrongly disabled.
    health: { domain: false },
    reference: 'https://www.dnswl.org/?p=311',
  },
  {
    name: 'hostkarma',
    title: 'Junk Email Filter hostkarma',
    zones: ['hostkarma.junkemailfilter.com'],
    kind: 'both',
    use: 'mixed',
    listings: [
      { codes: '127.0.0.1', meaning: 'hostkarma: whitelist (trusted non-spam)', use: 'allow' },
      { codes: '127.0.0.2', meaning: 'hostkarma: blacklist', use: 'block' },
      { codes: '127.0.0.4', meaning: 'hostkarma: brownlist (spam, not yet blacklisted)', use: 'block', weight: 0.5 },
    ],
    errors: genericErrors,
    info: [
      { codes: '127.0.0.3', meaning: 'hostkarma: yellowlist (mixed spam and ham): neither allow nor block' },
      // NOBL means "no need to query blacklists", not "trusted": it must never whitelist.
      { codes: '127.0.0.5', meaning: 'hostkarma: NOBL (not a spam-only source), not a whitelist' },
      { codes: '127.0.[1..2].[0..255]', meaning: 'hostkarma: informational (age / QUIT behaviour)' },
    ],
    // It answers 127.0.0.1 (its whitelist code) for the 127.0.0.1 test point.
    health: { ipv4: true, ipv6: true, domain: false, skipNegative: true },
    reference: 'https://wiki.junkemailfilter.com/index.php/Spam_DNS_Lists',
  },
  {
    name: 'mailspike-bl',
    title: 'Mailspike blacklist',
    zones: ['bl.mailspike.net', 'rep.mailspike.net'],
    kind: 'ip',
    use: 'block',
    listings: [
      { codes: '127.0.0.2', meaning: 'Mailspike: listed' },
      { codes: '127.0.0.10', meaning: 'Mailspike: L5 worst reputation' },
      { codes: '127.0.0.11', meaning: 'Mailspike: L4 very bad reputation' },
      { codes: '127.0.0.12', meaning: 'Mailspike: L3 bad reputation' },
    ],
    errors: genericErrors,
    // L2/L1 are "suspicious"/"neutral, probably spam" on rep.mailspike.net: not enough to reject on.
    info: [
      { codes: '127.0.0.[13..14]', meaning: 'Mailspike: L2-L1 suspicious/neutral reputation, not a listing' },
      { codes: '127.0.0.[15..20]', meaning: 'Mailspike: neutral/good reputation (H0-H5), not a listing' },
    ],
    health: { ipv4: true },
    reference: 'https://mailspike.org/usage.html',
  },
  {
    name: 'mailspike-wl',
    title: 'Mailspike whitelist',
    zones: ['wl.mailspike.net'],
    kind: 'ip',
    use: 'allow',
    // H1 (127.0.0.16) is "neutral, probably legit": a whitelist starts at H2.
    listings: [{ codes: '127.0.0.[17..20]', meaning: 'Mailspike: H2-H5 good reputation' }],
    errors: genericErrors,
    info: [
      { codes: '127.0.0.2', meaning: 'Mailspike: test point' },
      { codes: '127.0.0.[10..16]', meaning: 'Mailspike: neutral or bad reputation, not a whitelisting' },
    ],
    health: { ipv4: true },
    reference: 'https://mailspike.org/usage.html',
  },
  {
    name: 'barracuda',
    title: 'Barracuda Reputation Block List',
    zones: ['b.barracudacentral.org', 'bb.barracudacentral.org'],
    kind: 'ip',
    use: 'block',
    listings: [{ codes: '127.0.0.2', meaning: 'Barracuda: poor reputation' }],
    errors: genericErrors,
    health: { ipv4: true },
    reference: 'https://www.barracudacentral.org/rbl/how-to-use',
  },
  {
    name: 'psbl',
    title: 'Passive Spam Block List',
    zones: ['psbl.surriel.com'],
    kind: 'ip',
    use: 'block',
    listings: [{ codes: '127.0.0.2', meaning: 'PSBL: sent mail to spamtraps' }],
    errors: genericErrors,
    health: { ipv4: true },
    reference: 'https://psbl.org/',
  },
  {
    name: 'uceprotect',
    title: 'UCEPROTECT',
    zones: ['dnsbl-1.uceprotect.net', 'dnsbl-2.uceprotect.net', 'dnsbl-3.uceprotect.net'],
    kind: 'ip',
    use: 'block',
    listings: [{ codes: '127.0.0.2', meaning: 'UCEPROTECT: listed' }],
    errors: genericErrors,
    health: { ipv4: true },
    reference: 'https://www.uceprotect.net/en/index.php?m=6&s=11',
  },
  {
    name: 'iadb',
    title: 'ISIPP IADB (accreditation)',
    zones: ['iadb.isipp.com', 'iadb2.isipp.com'],
    kind: 'ip',
    use: 'allow',
    listings: [
      { codes: '127.0.1.[0..255]', meaning: 'IADB: vouched-for sender' },
      { codes: '127.0.2.[0..255]', meaning: 'IADB: member (accredited sender)' },
      { codes: '127.3.100.[0..255]', meaning: 'IADB: opt-in level' },
    ],
    errors: genericErrors,
    // The other IADB codes are statements of fact (bonded, pledge, volume, complaint rate...), not
    // accreditation.
    info: [{ codes: '127.[0..3].[0..255].[0..255]', meaning: 'IADB: informational code, not an accreditation' }],
    health: { ipv4: true },
    reference: 'https://www.isipp.com/codelist.php',
  },
  {
    name: 'gbudb',
    title: 'GBUdb truncate',
    zones: ['truncate.gbudb.net'],
    kind: 'ip',
    use: 'block',
    listings: [{ codes: '127.0.0.2', meaning: 'GBUdb: truncate (almost only spam)' }],
    errors: genericErrors,
    health: { ipv4: true },
    reference: 'https://www.gbudb.com/truncate/',
  },
  {
    name: 'generic',
    title: 'Generic RFC 5782 list',
    zones: [],
    kind: 'both',
    use: 'block',
    listings: [{ codes: '127.[0..255].[0..255].[0..255]', meaning: 'listed' }],
    errors: genericErrors,
    health: {},
    reference: 'https://www.rfc-editor.org/rfc/rfc5782',
  },
];

export class ProfileConfigError extends Error {
  readonly code = 'DNSLIST_BAD_PROFILE';
}

function rules(v: unknown, where: string): CodeRule[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ProfileConfigError(`${where}: expected a list of { codes, meaning }`);
  return v.map((r, i) => {
    const o = r as Partial<CodeRule> | null;
    if (!o || typeof o.codes !== 'string') throw new ProfileConfigError(`${where}[${i}]: codes must be a filter string`);
    if (o.use !== undefined && o.use !== 'allow' && o.use !== 'block') throw new ProfileConfigError(`${where}[${i}]: use must be allow or block`);
    if (o.weight !== undefined && typeof o.weight !== 'number') throw new ProfileConfigError(`${where}[${i}]: weight must be a number`);
    return { codes: o.codes, meaning: typeof o.meaning === 'string' ? o.meaning : o.codes, use: o.use, weight: o.weight };
  });
}

/**
 * An operator's profile from config (untyped YAML), checked and completed: `listings` is required,
 * everything else defaults (errors: 127.255.255.x; health: RFC 5782 probes for the kind).
 */
export function normaliseProfile(input: unknown, nameHint?: string): ProviderProfile {
  const o = (input ?? {}) as Record<string, unknown>;
  const name = typeof o.name === 'string' ? o.name : nameHint;
  if (!name) throw new ProfileConfigError('a DNS list profile needs a name');
  const where = `dns profile ${name}`;
  const kind = o.kind ?? 'ip';
  if (kind !== 'ip' && kind !== 'domain' && kind !== 'both') throw new ProfileConfigError(`${where}: kind must be ip, domain or both`);
  const use = o.use ?? 'block';
  if (use !== 'block' && use !== 'allow' && use !== 'mixed') throw new ProfileConfigError(`${where}: use must be block, allow or mixed`);
  const zones = o.zones ?? [];
  if (!Array.isArray(zones) || !zones.every((z) => typeof z === 'string')) throw new ProfileConfigError(`${where}: zones must be a list of names`);
  const listings = rules(o.listings, `${where}: listings`);
  if (listings.length === 0) throw new ProfileConfigError(`${where}: listings must name at least one code filter`);
  const health = (o.health ?? {}) as HealthProbes;
  if (typeof health !== 'object') throw new ProfileConfigError(`${where}: health must be a map`);
  return {
    name,
    title: typeof o.title === 'string' ? o.title : name,
    zones: zones.map((z) => z.toLowerCase().replace(/\.$/, '')),
    kind,
    use,
    listings,
    errors: o.errors === undefined ? genericErrors : rules(o.errors, `${where}: errors`),
    info: rules(o.info, `${where}: info`),
    health: {
      ipv4: health.ipv4 === undefined ? undefined : !!health.ipv4,
      ipv6: !!health.ipv6,
      domain: health.domain === undefined ? undefined : !!health.domain,
      skipNegative: !!health.skipNegative,
      positiveCodes: typeof health.positiveCodes === 'string' ? health.positiveCodes : undefined,
    },
    reference: typeof o.reference === 'string' ? o.reference : '',
  };
}

/** The operator's profiles as a list or as config's `name: profile` map. */
export type ProfileInput = readonly unknown[] | Readonly<Record<string, unknown>>;

/** Profiles by name, with the operator's own (same name) replacing the shipped ones. */
export function profileTable(extra: ProfileInput = []): Map<string, ProviderProfile> {
  const table = new Map<string, ProviderProfile>();
  for (const p of builtinProfiles) table.set(p.name, p);
  const list = Array.isArray(extra)
    ? extra.map((p) => normaliseProfile(p))
    : Object.entries(extra).map(([name, p]) => normaliseProfile(p, name));
  for (const p of list) table.set(p.name, p);
  return table;
}

/** The profile a zone gets when its config names none: by zone name, else `generic`. */
export function profileForZone(zone: string, table: Map<string, ProviderProfile>): ProviderProfile {
  const z = zone.toLowerCase().replace(/\.$/, '');
  let best: { p: ProviderProfile; len: number } | undefined;
  for (const p of table.values()) {
    for (const name of p.zones) {
      if ((z === name || z.endsWith(`.${name}`)) && (!best || name.length > best.len)) best = { p, len: name.length };
    }
  }
  return best?.p ?? (table.get('generic') as ProviderProfile);
}
