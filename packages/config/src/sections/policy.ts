// The `policy:` section: our identity, trusted networks, and the two restriction lists.
// Lists may be Postfix text (pasted from main.cf) or structured YAML; both are checked here.
import { type DnsblSite, makeRestriction, PolicyError, parseDnsblSite, parseRestrictions, type Restriction } from '@moat/policy';
import { z } from 'zod';
import { DEFAULT_RELAY_RESTRICTIONS_TEXT } from '../default-policy.ts';
import { hostname, network } from './common.ts';

type StructuredItem = string | Record<string, string | null>;

const ITEM_FORMS = 'a restriction: "name arg", { name: arg } or { type, zone, filter, map, service }';

function itemToRestriction(item: StructuredItem, index: number): Restriction {
  const position = { index: index + 1 };
  if (typeof item === 'string') {
    const parts = item.trim().split(/\s+/);
    if (parts.length > 2) throw new PolicyError('POLICY_BAD_ARGUMENT', item, 'one restriction per list item (name and at most one argument)', position);
    return makeRestriction(parts[0] ?? '', parts[1], position);
  }
  if ('type' in item) {
    const { type, zone, filter, map, service, ...rest } = item;
    const extra = Object.keys(rest);
    if (extra.length) throw new PolicyError('POLICY_BAD_ARGUMENT', String(type), `unexpected key(s) ${extra.join(', ')} (expected type, zone, filter, map, service)`, position);
    const arg = zone != null ? (filter != null ? `${zone}=${filter}` : zone) : (map ?? service ?? undefined);
    return makeRestriction(String(type), arg ?? undefined, position);
  }
  const keys = Object.keys(item);
  if (keys.length !== 1) throw new PolicyError('POLICY_BAD_ARGUMENT', keys.join(', '), 'a mapping item must have exactly one key: the restriction name', position);
  const name = keys[0]!;
  return makeRestriction(name, item[name] ?? undefined, position);
}

function isStructuredItem(v: unknown): v is StructuredItem {
  if (typeof v === 'string') return true;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  return Object.values(v).every((x) => x === null || typeof x === 'string');
}

/**
 * A restriction list: Postfix text (pasted from main.cf) or a YAML list of items (see ITEM_FORMS).
 * Parsed into Restriction[]; an error names the item (and its line in the text, or its list index).
 */
export const restrictionList = z.unknown().transform((v, ctx): Restriction[] => {
  if (typeof v !== 'string' && !Array.isArray(v)) {
    ctx.addIssue({ code: 'custom', message: 'expected Postfix restriction text (as in main.cf) or a list of restrictions' });
    return z.NEVER;
  }
  if (Array.isArray(v)) {
    const bad = v.findIndex((x) => !isStructuredItem(x));
    if (bad >= 0) {
      ctx.addIssue({ code: 'custom', path: [bad], message: `expected ${ITEM_FORMS} (argument values are text)` });
      return z.NEVER;
    }
  }
  try {
    if (typeof v === 'string') return parseRestrictions(v);
    return (v as StructuredItem[]).map(itemToRestriction);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    const idx = e.position.index;
    ctx.addIssue({
      code: 'custom',
      // For a YAML list the failing element is the path; for text, the message carries line:col.
      path: typeof v === 'string' || idx === undefined ? [] : [idx - 1],
      message: `${e.reason}`,
      params: { item: e.item, textLine: typeof v === 'string' ? e.position.line : undefined, textColumn: typeof v === 'string' ? e.position.column : undefined, index: idx },
    });
    return z.NEVER;
  }
});

/**
 * postscreen_dnsbl_sites: Postfix text (`zen.spamhaus.org=127.0.0.[2..11]*3, list.dnswl.org*-2`, commas,
 * blanks and newlines between entries) or a YAML list of entries. A malformed entry is named, with its line.
 */
export const dnsblSiteList = z.unknown().transform((v, ctx): DnsblSite[] => {
  if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
    ctx.addIssue({ code: 'custom', message: 'expected postscreen_dnsbl_sites text (zone[=filter][*weight], ...) or a list of such entries' });
    return z.NEVER;
  }
  // each entry with where it was written: its line in the text, or its list index
  const entries: Array<{ text: string; line?: number; column?: number; index: number }> = [];
  if (typeof v === 'string') {
    v.split(/\r?\n/).forEach((line, li) => {
      for (const m of line.matchAll(/[^,\s]+/g)) entries.push({ text: m[0], line: li + 1, column: m.index + 1, index: entries.length });
    });
  } else {
    v.forEach((x, i) => {
      entries.push({ text: x.trim(), index: i });
    });
  }
  const out: DnsblSite[] = [];
  for (const e of entries) {
    try {
      out.push(parseDnsblSite(e.text, e.index + 1));
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      ctx.addIssue({
        code: 'custom',
        path: typeof v === 'string' ? [] : [e.index],
        message: err.reason,
        params: { item: err.item, textLine: e.line, textColumn: e.column, index: e.index + 1 },
      });
      return z.NEVER;
    }
  }
  return out;
});

/** Postfix writes lists as text (`mynetworks = 127.0.0.0/8 [::1]/128`); accept that as well as a YAML list. */
const postfixList = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter((x) => x !== '') : v), z.array(item));

/** An SMTP reply code a check refuses with (Postfix's *_reject_code): 4xx defers, 5xx rejects. */
const replyCode = z.number().int().min(400, 'an SMTP reply code from 400 to 599').max(599, 'an SMTP reply code from 400 to 599');

export const policySection = z.strictObject({
  /** Our own name (Postfix myhostname): used in the banner, and refused as a stranger's HELO. Required. */
  hostname,
  /** Our own IP addresses: a stranger's HELO `[addr]` claiming them is refused. */
  my_addresses: z.array(z.string()).default([]),
  /** Networks permit_mynetworks trusts (Postfix mynetworks): backup MXes, internal hosts. */
  mynetworks: postfixList(network).default(['127.0.0.0/8', '[::1]/128']),
  /** smtpd_delay_reject: evaluate HELO/MAIL restrictions at RCPT, so the recipient is known. */
  delay_reject: z.boolean().default(true),
  /** strict_rfc821_envelopes: require `<local@domain.tld>` (or `<>`) in MAIL FROM / RCPT TO. */
  strict_rfc821_envelopes: z.boolean().default(true),
  /**
   * smtpd_sender_login_maps: tables (`hash:/etc/moat/sender_login`, `regexp:...`) from a sender address
   * (or `@domain`) to the SASL logins that own it, for the reject_*_sender_login_mismatch restrictions.
   * (smtpd_reject_unlisted_recipient/_sender are routing: keys, by their Postfix names.)
   */
  sender_login_maps: postfixList(z.string().regex(/^[a-z0-9]+:.+$/, 'expected a lookup table type:name (e.g. hash:/etc/moat/sender_login)')).default([]),
  /** smtpd_relay_restrictions: relay control, evaluated first. */
  relay_restrictions: restrictionList.default(() => parseRestrictions(DEFAULT_RELAY_RESTRICTIONS_TEXT)),
  /**
   * smtpd_recipient_restrictions: the spam policy. Unset = the shipped default (the seed's list);
   * `check_client_access` is added to the default only when `client_access` is set.
   */
  recipient_restrictions: restrictionList.optional(),
  /**
   * postscreen_dnsbl_sites: weighted DNS lists (`zone[=filter][*weight]`; a negative weight for an allow list)
   * that reject_dnsbl_score and permit_dnsbl_score sum for the client address. Empty: those restrictions
   * cannot be listed. The dnslist profiles still decide which answers count.
   */
  dnsbl_sites: dnsblSiteList.default([]),
  /** postscreen_dnsbl_threshold: reject_dnsbl_score rejects a sum at or above it. */
  dnsbl_threshold: z.number().int().default(1),
  /**
   * postscreen_dnsbl_allowlist_threshold: permit_dnsbl_score permits a sum at or below it. Postfix's default 0
   * means off; only a negative value enables it. `dnsbl_whitelist_threshold` is its older name (this one wins).
   */
  dnsbl_allowlist_threshold: z.number().int().optional(),
  dnsbl_whitelist_threshold: z.number().int().optional(),
  /**
   * Reply codes by Postfix's names (smtpd_check.c, postconf -d defaults): an unknown user refused by check_rcpt_maps
   * (reject_unlisted_recipient/_sender, explicit or implicit), by the address's class; an `error:` next hop answers 550
   * (unknown_virtual_alias_reject_code in a virtual alias domain), `retry:` 450. A 4xx code defers.
   */
  unknown_local_recipient_reject_code: replyCode.default(550),
  unknown_virtual_alias_reject_code: replyCode.default(550),
  unknown_virtual_mailbox_reject_code: replyCode.default(550),
  unknown_relay_recipient_reject_code: replyCode.default(550),
  /** reject_unknown_sender_domain / reject_unknown_recipient_domain: no MX, A or AAAA. */
  unknown_address_reject_code: replyCode.default(450),
  /** What their DNS failure does: defer_if_permit (only if nothing else rejects) or defer at once. */
  unknown_address_tempfail_action: z.enum(['defer_if_permit', 'defer']).default('defer_if_permit'),
  /** reject_unknown_client_hostname / reject_unknown_reverse_client_hostname (a failed lookup is 450 whatever this says). */
  unknown_client_reject_code: replyCode.default(450),
  /**
   * The access map the default list consults (`cidr:/etc/moat/rbl_override`, or any table type
   * @moat/maps reads: `hash:`, `texthash:`, `regexp:`, `pcre:`...); unset = no such step.
   */
  client_access: z
    .string()
    .regex(/^[A-Za-z]+:\S+$/, 'expected a lookup table as type:/path/to/table (for example cidr:/etc/moat/rbl_override)')
    .optional(),
  /**
   * Inline cidr tables by map name (`cidr:/etc/moat/rbl_override: "192.0.2.0/24 OK"`). A map named
   * in a restriction and not defined here is read from its path (relative to the config file).
   */
  access_maps: z.record(z.string().regex(/^cidr:\S+$/, 'expected a cidr map name as cidr:/path'), z.string()).default({}),
});

export type PolicySection = z.infer<typeof policySection>;
