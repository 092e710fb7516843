// Envelope address text as Postfix's trivial-rewrite and split_addr(3) see it: local part, domain, extension.
// The address is client input: nothing here throws; odd forms come back as parts, judged by the caller.

/** An address split at its last `@`, local part unquoted (internal form), domain lower-cased without one trailing dot. */
export interface AddressParts {
  /** Internal (unquoted) local part, case kept. */
  local: string;
  /** Lower case, one trailing dot dropped; '' when the address had no `@`. */
  domain: string;
  /** Whether the address had an `@` at all. */
  hasDomain: boolean;
}

/** Splits `local@domain`, unquoting a quoted local part (`"a b"@d` → `a b`), as Postfix's internal form. */
export function splitAddress(address: string): AddressParts {
  let s = address;
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1);
  const at = s.lastIndexOf('@');
  const rawLocal = at < 0 ? s : s.slice(0, at);
  let domain = at < 0 ? '' : s.slice(at + 1).toLowerCase();
  // Postfix strips one trailing dot, but not dot-dot (that stays and fails later).
  if (domain.length > 1 && domain.endsWith('.') && !domain.endsWith('..')) domain = domain.slice(0, -1);
  return { local: unquoteLocal(rawLocal), domain, hasDomain: at >= 0 };
}

/** unquote_822_local: removes RFC 5322 quoting from a local part (`"a\"b"` → `a"b`); unquoted text is kept. */
export function unquoteLocal(local: string): string {
  if (!local.includes('"')) return local;
  let out = '';
  let quoted = false;
  for (let i = 0; i < local.length; i++) {
    const c = local[i] as string;
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && quoted && i + 1 < local.length) out += local[++i];
    else out += c;
  }
  return out;
}

// RFC 6531 lets UTF-8 into atoms.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/;

/** quote_822_local: the external form of a local part, quoted only when it is not a dot-atom. */
export function quoteLocal(local: string): string {
  if (local === '') return '""';
  if (isPlainAtom(local) || DOT_ATOM.test(local)) return local;
  return `"${local.replace(/(["\\])/g, '\\$1')}"`;
}

/** The common case without a regex: letters, digits, `.` (not first, last or doubled), `+ - _ =`. */
function isPlainAtom(s: string): boolean {
  let prevDot = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (prevDot) return false;
      prevDot = true;
      continue;
    }
    prevDot = false;
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 95 || c === 61)) return false;
  }
  return !prevDot;
}

/**
 * The index of the `@` when `address` is already in the form splitAddress would give back unchanged and
 * external: a plain local part (letters, digits, `. + - _ =`, no leading, trailing or double dot) and a
 * domain with no capital, nothing beyond ASCII and no trailing dot. -1 otherwise (split it the long way).
 * The common RCPT address, checked without allocating.
 */
export function plainAddressAt(address: string): number {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return -1;
  let prevDot = true;
  for (let i = 0; i < at; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      if (prevDot) return -1;
      prevDot = true;
      continue;
    }
    prevDot = false;
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 95 || c === 61)) return -1;
  }
  if (prevDot) return -1;
  for (let i = at + 1; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return -1;
  }
  return address.charCodeAt(address.length - 1) === 46 ? -1 : at;
}

/** The external (quoted where needed) form of an internal address. */
export function externalForm(local: string, domain: string): string {
  return domain === '' ? quoteLocal(local) : `${quoteLocal(local)}@${domain}`;
}

/** A split extension: `user` and `tag` of `user+tag`, and the delimiter character that split them. */
export interface Extension {
  user: string;
  extension: string;
  delimiter: string;
}

/**
 * split_addr(3): the extension starts at the first character of `delimiters` (each character is a
 * delimiter, Postfix 2.11+). Not split: postmaster, MAILER-DAEMON, double-bounce; with `-` among the
 * delimiters, owner-* and *-request (owner_request_special = yes); and never to an empty user.
 */
export function splitExtension(local: string, delimiters: string): Extension | undefined {
  if (delimiters === '') return undefined;
  let cut = -1;
  for (let i = 0; i < local.length; i++) {
    if (delimiters.includes(local[i] as string)) {
      cut = i;
      break;
    }
  }
  if (cut <= 0) return undefined;
  const n = local.length;
  if (n === 10 || n === 13) {
    const lower = local.toLowerCase();
    if (lower === 'postmaster' || lower === 'mailer-daemon' || lower === 'double-bounce') return undefined;
  }
  if (delimiters.includes('-')) {
    const lower = local.toLowerCase();
    if (lower.startsWith('owner-') || (lower.length > 8 && lower.endsWith('-request'))) return undefined;
  }
  return { user: local.slice(0, cut), extension: local.slice(cut + 1), delimiter: local[cut] as string };
}
