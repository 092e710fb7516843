// A DNS list zone's display name: what replies, logs, metric labels, the journal and the console show.
// Trusts the admin's config; a zone carrying an access key (Spamhaus DQS, Abusix) never shows the key.

/**
 * Suffixes of keyed lists: the zone is `KEY.<list>.<suffix>` and the key is a secret the provider bills
 * for (`KEY.zen.dq.spamhaus.net`, `KEY.dbl.dq.spamhaus.net`, `KEY.combined.mail.abusix.zone`). The display
 * name keeps `<list>.<suffix>` and drops every label before it.
 */
export const KEYED_ZONE_SUFFIXES: readonly string[] = Object.freeze(['dq.spamhaus.net', 'dq.spamhaus.com', 'mail.abusix.zone']);

/** A display name given in config must look like a zone name (it ends up in SMTP replies). */
const DISPLAY_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;

export function validDisplayName(s: unknown): s is string {
  return typeof s === 'string' && DISPLAY_RE.test(s) && !s.includes('..');
}

/**
 * The name to show for `zone`: `display` when the admin gave one, else the zone without the key label of
 * a keyed list (see KEYED_ZONE_SUFFIXES), else the zone as written.
 */
export function zoneDisplayName(zone: string, display?: string | undefined): string {
  if (display !== undefined && validDisplayName(display)) return display;
  const z = zone.trim().replace(/\.$/, '');
  const lower = z.toLowerCase();
  for (const suffix of KEYED_ZONE_SUFFIXES) {
    if (!lower.endsWith(`.${suffix}`)) continue;
    const head = z.slice(0, z.length - suffix.length - 1).split('.');
    // `zen.dq.spamhaus.net` alone has no key; `KEY.zen.dq.spamhaus.net` (or deeper) has
    if (head.length >= 2) return `${head[head.length - 1]!.toLowerCase()}.${suffix}`;
  }
  return z;
}

/**
 * zone → display name for every zone given, as written and normalised (lower case, no final dot), with the
 * explicit `display` of `dns.zones.<zone>` where there is one.
 */
export function zoneDisplayNames(zones: Iterable<string>, options: Readonly<Record<string, unknown>> = {}): Record<string, string> {
  const explicit = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    const d = o && typeof o === 'object' ? (o as { display?: unknown }).display : undefined;
    if (typeof d === 'string') explicit.set(norm(name), d);
  }
  const out: Record<string, string> = {};
  for (const zone of [...zones, ...Object.keys(options)]) {
    const display = zoneDisplayName(zone, explicit.get(norm(zone)));
    out[zone] = display;
    out[norm(zone)] = display;
  }
  return out;
}

function norm(zone: string): string {
  return zone.trim().toLowerCase().replace(/\.$/, '');
}
