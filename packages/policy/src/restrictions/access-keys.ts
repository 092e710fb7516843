// The keys Postfix looks an access map up with, in its order (access(5), smtpd_check.c, mail_addr_find.c).
// Trusts nothing in the address or name: keys are built from it, never evaluated. Pure string work.
import { parseIp } from '../ip.ts';

/**
 * Pattern tables (regexp, pcre, cidr) answer only the full key: Postfix asks the partial keys
 * (parent domains, addresses without extension, `user@`) of fixed-string tables only (DICT_FLAG_FIXED).
 */
export function isPatternMap(map: string): boolean {
  const m = /^(?:proxy:)?([a-z0-9_]+):/i.exec(map);
  const type = m?.[1]?.toLowerCase();
  return type === 'regexp' || type === 'pcre' || type === 'cidr';
}

/** Postfix check_domain_access: the name, then its parent domains (`b.c` or `.b.c`); an IP address only itself. */
export function domainKeys(domain: string, pdms: boolean, pattern: boolean, out: string[] = []): string[] {
  const d = domain.toLowerCase();
  if (d === '') return out;
  out.push(d);
  if (pattern || parseIp(d) !== undefined) return out;
  let name = d;
  for (;;) {
    const dot = name.indexOf('.', 1);
    if (dot < 0) break;
    name = pdms ? name.slice(dot + 1) : name.slice(dot);
    if (name === '') break;
    out.push(name);
  }
  return out;
}

/** The local part without its extension (Postfix recipient_delimiter: the first of its characters), or undefined. */
export function stripExtension(local: string, delimiters: string): string | undefined {
  if (delimiters === '') return undefined;
  let cut = -1;
  for (const ch of delimiters) {
    const i = local.indexOf(ch);
    if (i > 0 && (cut < 0 || i < cut)) cut = i;
  }
  return cut > 0 ? local.slice(0, cut) : undefined;
}

function split(address: string, myOrigin: string): { full: string; local: string; domain: string } {
  const a = address.toLowerCase();
  const at = a.lastIndexOf('@');
  // Postfix's resolver qualifies a bare local part with $myorigin before any lookup
  if (at < 0) return { full: `${a}@${myOrigin}`, local: a, domain: myOrigin };
  return { full: a, local: a.slice(0, at), domain: a.slice(at + 1) };
}

/**
 * Postfix check_mail_access (check_sender_access, check_recipient_access): `user+ext@domain`,
 * `user@domain`, `domain` and its parents, `user+ext@`, `user@`.
 */
export function mailAccessKeys(address: string, opts: { delimiter: string; pdms: boolean; myOrigin: string }, pattern: boolean): string[] {
  const { full, local, domain } = split(address, opts.myOrigin);
  const keys = [full];
  if (pattern) return keys;
  const bare = stripExtension(local, opts.delimiter);
  if (bare !== undefined) keys.push(`${bare}@${domain}`);
  domainKeys(domain, opts.pdms, false, keys);
  keys.push(`${local}@`);
  if (bare !== undefined) keys.push(`${bare}@`);
  return keys;
}

/**
 * Postfix mail_addr_find's default order (smtpd_sender_login_maps): `user+ext@domain`,
 * `user@domain`, then `user+ext` and `user` when the domain is our own name ($myorigin,
 * $mydestination: moat knows only myhostname and localhost), then `@domain`.
 */
export function ownerKeys(address: string, opts: { delimiter: string; myOrigin: string }, pattern: boolean): string[] {
  const { full, local, domain } = split(address, opts.myOrigin);
  const keys = [full];
  if (pattern) return keys;
  const bare = stripExtension(local, opts.delimiter);
  if (bare !== undefined) keys.push(`${bare}@${domain}`);
  if (domain === opts.myOrigin || domain === 'localhost') {
    keys.push(local);
    if (bare !== undefined) keys.push(bare);
  }
  keys.push(`@${domain}`);
  return keys;
}
