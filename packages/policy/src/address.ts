// Syntax checks on what the client said: HELO names, envelope addresses, hostile recipient forms.
// Everything here is untrusted client input; functions only classify, they never throw.
import { parseIp } from './ip.ts';

/**
 * Postfix's valid_hostname: labels of letters, digits, '-' and '_' (no leading/trailing '-'),
 * at most 63 characters each, 255 in all, and not all-numeric (that would be an address).
 * A character loop rather than split+regex: this runs several times per decision.
 */
export function isValidHostname(name: string): boolean {
  return hostnameInRange(name, 0, name.length);
}

/** isValidHostname on name[start, end) without slicing it out. */
function hostnameInRange(name: string, start: number, end: number): boolean {
  let n = end;
  if (n > start && name.charCodeAt(n - 1) === 46) n--;
  if (n === start || n - start > 255) return false;
  let labelLen = 0;
  let labelNumeric = true;
  let lastHyphen = false;
  let anyNonNumeric = false;
  for (let i = start; i <= n; i++) {
    const c = i < n ? name.charCodeAt(i) : 46;
    if (c === 46) {
      if (labelLen === 0 || lastHyphen) return false;
      if (!labelNumeric) anyNonNumeric = true;
      labelLen = 0;
      labelNumeric = true;
      continue;
    }
    if (c >= 48 && c <= 57) lastHyphen = false;
    else if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95) {
      lastHyphen = false;
      labelNumeric = false;
    } else if (c === 45) {
      if (labelLen === 0) return false;
      lastHyphen = true;
      labelNumeric = false;
    } else return false;
    if (++labelLen > 63) return false;
  }
  return anyNonNumeric;
}

/** A domain with at least two labels whose last label (the TLD) is not numeric. */
export function isFqdn(name: string): boolean {
  if (!isValidHostname(name)) return false;
  const n = name.charCodeAt(name.length - 1) === 46 ? name.length - 1 : name.length;
  const dot = name.lastIndexOf('.', n - 1);
  if (dot <= 0) return false;
  for (let i = dot + 1; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return true;
  }
  return false; // numeric top-level label
}

/**
 * Parses an RFC 5321 address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`. Returns the address
 * text (without brackets or tag), or undefined when it is not a well-formed literal.
 */
export function parseAddressLiteral(s: string): string | undefined {
  if (!s.startsWith('[') || !s.endsWith(']')) return undefined;
  const inner = s.slice(1, -1);
  if (/^ipv6:/i.test(inner)) {
    const a = inner.slice(5);
    const ip = parseIp(a);
    return ip && a.includes(':') ? a : undefined;
  }
  if (inner.includes(':')) return undefined; // RFC 5321 requires the IPv6: tag
  return parseIp(inner) ? inner : undefined;
}

export type HeloProblem = 'syntax' | 'literal';

/** Why a HELO argument is invalid (RFC 5321 syntax), or undefined when it is acceptable. */
export function heloSyntaxProblem(helo: string): HeloProblem | undefined {
  if (helo.startsWith('[')) return parseAddressLiteral(helo) === undefined ? 'literal' : undefined;
  return isValidHostname(helo) ? undefined : 'syntax';
}

/** Splits `local@domain` at the last '@' outside quotes. The domain is '' when there is none. */
export function splitAddress(addr: string): { local: string; domain: string } {
  let inQuote = false;
  let at = -1;
  for (let i = 0; i < addr.length; i++) {
    const c = addr[i];
    if (c === '\\' && inQuote) {
      i++;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    else if (c === '@' && !inQuote) at = i;
  }
  if (at < 0) return { local: addr, domain: '' };
  return { local: addr.slice(0, at), domain: addr.slice(at + 1) };
}

/** The domain part of an address, lower-cased and without a trailing dot ('' when none). */
export function addressDomain(addr: string): string {
  const d = splitAddress(addr).domain.toLowerCase();
  return d.endsWith('.') ? d.slice(0, -1) : d;
}

const ATEXT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-";
const ATEXT_TABLE = new Uint8Array(128);
for (let i = 0; i < ATEXT_CHARS.length; i++) ATEXT_TABLE[ATEXT_CHARS.charCodeAt(i)] = 1;

/**
 * The common case, checked in one pass: `dot-atom@hostname` with no '%' or '!' in the local part.
 * True means plainly fine; false means "look closer" (the slow paths decide).
 */
export function isPlainMailbox(addr: string): boolean {
  return plainMailboxInRange(addr, 0, addr.length);
}

function plainMailboxInRange(addr: string, start: number, end: number): boolean {
  const at = addr.lastIndexOf('@', end - 1);
  if (at <= start || at - start > 64) return false;
  let prevDot = true;
  for (let i = start; i < at; i++) {
    const c = addr.charCodeAt(i);
    if (c === 46) {
      if (prevDot) return false;
      prevDot = true;
      continue;
    }
    prevDot = false;
    if (c > 127 || ATEXT_TABLE[c] !== 1 || c === 37 || c === 33) return false;
  }
  if (prevDot) return false;
  return hostnameInRange(addr, at + 1, end);
}

export type HostileForm = 'source-route' | 'percent-hack' | 'bang-path' | 'quoted-at' | 'address-literal' | 'no-domain' | 'bad-syntax';

/**
 * Recipient forms that route mail somewhere other than the domain after the last '@' (classic
 * open-relay tricks), or that are not a plain `local@domain`: these are never treated as ours.
 */
export function hostileRecipientForm(rcpt: string): HostileForm | undefined {
  if (isPlainMailbox(rcpt)) return undefined;
  if (rcpt.startsWith('@')) return 'source-route'; // @a,@b:u@c
  const { local, domain } = splitAddress(rcpt);
  if (domain === '') return local.includes('!') ? 'bang-path' : 'no-domain';
  if (domain.startsWith('[')) return 'address-literal';
  if (local.startsWith('"')) {
    if (!local.endsWith('"') || local.length < 2) return 'bad-syntax';
    const inner = local.slice(1, -1);
    if (/[@%!]/.test(inner)) return 'quoted-at';
  } else {
    if (local.includes('"')) return 'bad-syntax';
    if (local.includes('%')) return 'percent-hack';
    if (local.includes('!')) return 'bang-path';
    if (local.includes(':') || local.includes(',')) return 'source-route';
    if (local.includes('@')) return 'bad-syntax';
    if (!DOT_STRING_RE.test(local)) return 'bad-syntax';
  }
  if (!isMailDomain(domain)) return 'bad-syntax';
  return undefined;
}

// RFC 5321 Mailbox = Local-part "@" ( Domain / address-literal ); Local-part = Dot-string / Quoted-string
const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
// RFC 6531 (SMTPUTF8) extends atext with any non-ASCII character, and domains with U-labels.
const DOT_STRING_RE = new RegExp(`^[\\u0080-\\uffff${ATEXT}]+(\\.[\\u0080-\\uffff${ATEXT}]+)*$`);
const U_LABEL_DOMAIN_RE = /^(?=.*[^\x00-\x7f])[\p{L}\p{M}\p{N}_-]+(\.[\p{L}\p{M}\p{N}_-]+)+\.?$/u;

/** A fully-qualified host name, or an internationalised one in U-labels (which always has a dot). */
export function isFqdnDomain(domain: string): boolean {
  return isFqdn(domain) || U_LABEL_DOMAIN_RE.test(domain);
}

/** A host name, or an internationalised domain written in U-labels (RFC 6531). */
export function isMailDomain(domain: string): boolean {
  return isValidHostname(domain) || U_LABEL_DOMAIN_RE.test(domain);
}
const QUOTED_RE = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;

/**
 * True when `addr` (brackets already removed) is an RFC 5321 Mailbox: dot-string or quoted local
 * part, '@', a host name or address literal. Whether the name is fully qualified is a policy
 * question (reject_non_fqdn_*), not syntax.
 */
export function isRfc5321Mailbox(addr: string): boolean {
  if (isPlainMailbox(addr)) return true;
  const { local, domain } = splitAddress(addr);
  if (local.length === 0 || local.length > 64 || domain === '') return false;
  if (!DOT_STRING_RE.test(local) && !QUOTED_RE.test(local)) return false;
  if (domain.startsWith('[')) return parseAddressLiteral(domain) !== undefined;
  return isMailDomain(domain);
}

/**
 * Strict RFC 821/5321 envelope form of a MAIL FROM / RCPT TO argument as written: `<>` (sender
 * only), or `<mailbox>`, optionally with an RFC 5321 source route (`<@a,@b:u@d>`), which the
 * syntax allows; source-routed recipients are refused separately as relay attempts.
 */
export function isStrictEnvelope(raw: string, allowNull: boolean): boolean {
  // the common case, without copying: `<dot-atom@hostname>`
  if (raw.charCodeAt(0) === 60 && raw.charCodeAt(raw.length - 1) === 62 && plainMailboxInRange(raw, 1, raw.length - 1)) return true;
  const s = raw.charCodeAt(0) === 60 && raw.charCodeAt(raw.length - 1) === 62 ? raw : raw.trim();
  if (!s.startsWith('<') || !s.endsWith('>')) return false;
  let inner = s.slice(1, -1);
  if (inner === '') return allowNull;
  if (!allowNull && inner.toLowerCase() === 'postmaster') return true; // RFC 5321: RCPT TO:<Postmaster>
  if (inner.startsWith('@')) {
    const colon = inner.indexOf(':');
    if (colon < 0) return false;
    const route = inner.slice(0, colon).split(',');
    for (const hop of route) if (!hop.startsWith('@') || !isFqdn(hop.slice(1))) return false;
    inner = inner.slice(colon + 1);
  }
  return isRfc5321Mailbox(inner);
}
