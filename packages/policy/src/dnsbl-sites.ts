// Postfix's postscreen_dnsbl_sites (`zone[=filter][*weight]`, one entry per word), parsed into weighted DNS-list sites.
// Trusts nothing in the text: every zone, filter and weight is checked here (postscreen_dnsbl.c psc_dnsbl_add_site).
import { parseCodeFilter } from './code-filter.ts';
import { POLICY_ERROR_CODES, PolicyError } from './errors.ts';
import type { DnsblSite } from './types.ts';

const ZONE_RE = /^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)+\.?$/;
const WEIGHT_RE = /^[+-]?\d{1,6}$/;

/**
 * One `postscreen_dnsbl_sites` entry. As in postscreen, the weight is split off at the first `*`
 * (an integer, negative for an allow list, 1 when absent), then the filter at the first `=`
 * (`127.0.0.[2..11]`, `127.0.[0..255].[1;3]`; absent: any answer counts). Throws PolicyError naming the entry.
 */
export function parseDnsblSite(entry: string, index?: number): DnsblSite {
  const position = index === undefined ? {} : { index };
  const bad = (reason: string) => new PolicyError(POLICY_ERROR_CODES.BAD_ARGUMENT, entry, `malformed postscreen_dnsbl_sites entry: ${reason} (expected zone[=filter][*weight], e.g. zen.spamhaus.org=127.0.0.[2..11]*3)`, position);
  let rest = entry;
  let weight = 1;
  const star = rest.indexOf('*');
  if (star >= 0) {
    const w = rest.slice(star + 1);
    if (!WEIGHT_RE.test(w)) throw bad(`weight ${JSON.stringify(w)} is not an integer`);
    weight = Number(w);
    rest = rest.slice(0, star);
  }
  let filter: string | undefined;
  const eq = rest.indexOf('=');
  if (eq >= 0) {
    filter = rest.slice(eq + 1);
    rest = rest.slice(0, eq);
    try {
      parseCodeFilter(filter);
    } catch (e) {
      if (e instanceof PolicyError) throw bad(e.reason);
      throw e;
    }
  }
  if (!ZONE_RE.test(rest)) throw bad(`${JSON.stringify(rest)} is not a DNS zone name`);
  const site: DnsblSite = { zone: rest.toLowerCase().replace(/\.$/, ''), weight };
  // postscreen: a bare `zone=` has an empty pattern, which matches any answer, as no filter does
  if (filter !== undefined && filter !== '') site.filter = filter;
  return site;
}

/** The whole setting: entries separated by commas and/or whitespace (postscreen splits on ", \t\r\n"). */
export function parseDnsblSites(text: string | readonly string[]): DnsblSite[] {
  const words = typeof text === 'string' ? text.split(/[\s,]+/).filter((w) => w !== '') : text.flatMap((t) => t.split(/[\s,]+/).filter((w) => w !== ''));
  return words.map((w, i) => parseDnsblSite(w, i + 1));
}

/** The entry as Postfix writes it (for traces, `config check` and the importer's report). */
export function formatDnsblSite(s: DnsblSite): string {
  return `${s.zone}${s.filter === undefined ? '' : `=${s.filter}`}${s.weight === 1 ? '' : `*${s.weight}`}`;
}
