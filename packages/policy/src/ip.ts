// IP address and CIDR parsing for the engine (mynetworks, cidr access maps, HELO literals).
// Pure and allocation-light: addresses become 16-byte arrays (IPv4 mapped into ::ffff:0:0/96).

/** An address as 16 bytes; IPv4 is stored IPv4-mapped so one matcher serves both families. */
export interface IpAddr {
  v4: boolean;
  bytes: Uint8Array;
}

export interface Cidr {
  /** The network as written, for traces. */
  text: string;
  bytes: Uint8Array;
  /** Prefix length over the 16-byte form (an IPv4 /24 is /120 here). */
  bits: number;
}

/** Dotted quad into out[at..at+3]; a character loop (this runs on every decision). */
function parseV4Into(s: string, out: Uint8Array, at: number): boolean {
  let octet = 0;
  let value = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || octet > 3 || value > 255) return false;
      if (leadingZero && digits > 1) return false; // no octal-looking octets
      out[at + octet++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 0) leadingZero = c === 48;
      if (++digits > 3) return false;
      value = value * 10 + (c - 48);
    } else return false;
  }
  return octet === 4;
}

/** Parses an IPv4 dotted quad into its four octets, or undefined. */
export function parseIPv4(s: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return parseV4Into(s, out, 0) ? out : undefined;
}

function parseV6(s: string): Uint8Array | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const out = new Uint8Array(16);
  let head = s;
  let tailV4: string | undefined;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > lastColon) {
    tailV4 = s.slice(lastColon + 1);
    head = s.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsAvail = tailV4 === undefined ? 8 : 6;
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const gs = part.split(':');
    const r: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      r.push(Number.parseInt(g, 16));
    }
    return r;
  };
  let groups: number[];
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right) return undefined;
    const fill = groupsAvail - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    const g = parseGroups(head);
    if (!g || g.length !== groupsAvail) return undefined;
    groups = g;
  }
  for (let i = 0; i < groups.length; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  if (tailV4 !== undefined && !parseV4Into(tailV4, out, 12)) return undefined;
  return out;
}

/**
 * The one `::ffff:` unmapping of address text: an IPv4-mapped IPv6 literal (`::ffff:192.0.2.1`, how a dual-stack
 * socket shows an IPv4 peer) becomes its dotted quad; anything else is returned as it is.
 */
export function unmapIPv4(s: string): string {
  return s.charCodeAt(0) === 58 ? s.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '') : s;
}

/** Parses an IPv4 or IPv6 literal (no brackets, no zone id). IPv4-mapped IPv6 counts as IPv4. */
export function parseIp(s: string): IpAddr | undefined {
  if (s.includes(':')) {
    const b = parseV6(s);
    if (!b) return undefined;
    let mapped = true;
    for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false;
    if (b[10] !== 0xff || b[11] !== 0xff) mapped = false;
    return { v4: mapped, bytes: b };
  }
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  if (!parseV4Into(s, b, 12)) return undefined;
  return { v4: true, bytes: b };
}

/** An address parsed once: the bytes and the canonical text. Shared: never modify `ip.bytes`. */
export interface ParsedIp {
  ip: IpAddr | undefined;
  /** formatIp(ip), or the input when it is no address. */
  text: string;
}

const parsedCache = new Map<string, ParsedIp>();
const PARSED_CACHE_MAX = 8192;

/**
 * parseIp + formatIp, memoised (bounded; cleared when full): the engine and the cidr maps see the
 * same client address many times (one decision per recipient, a session per client). The answer
 * is shared between callers: read it, never modify it.
 */
export function parseIpShared(s: string): ParsedIp {
  let p = parsedCache.get(s);
  if (p === undefined) {
    const ip = parseIp(s);
    p = { ip, text: ip ? formatIp(ip) : s };
    if (s.length > 45) return p; // longer than any address literal: not worth keeping
    if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.clear();
    parsedCache.set(s, p);
  }
  return p;
}

/** The canonical text of an address: dotted quad for IPv4 (also when written IPv4-mapped). */
export function formatIp(a: IpAddr): string {
  const b = a.bytes;
  if (a.v4) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // compress the longest run of zero groups
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * The network of `a` at `prefix` bits of its family (0-32 for IPv4, 0-128 for IPv6): the bits past it cleared.
 * IPv4 sits at ::ffff:0:0/96 in the 16-byte form, so an IPv4 /24 masks at bit 120.
 */
export function maskIp(a: IpAddr, prefix: number): IpAddr {
  const bits = a.v4 ? 96 + prefix : prefix;
  const bytes = new Uint8Array(a.bytes);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    if (keep < 8) bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { v4: a.v4, bytes };
}

/**
 * Parses a network as Postfix writes it: `192.0.2.0/24`, `2001:db8::/32`, `[2001:db8::]/32`,
 * `[::1]/128`, or a bare address (a host route). Returns undefined when malformed, including host
 * bits set beyond the prefix (Postfix refuses those too).
 */
export function parseCidr(text: string): Cidr | undefined {
  let s = text.trim();
  let lenText: string | undefined;
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    lenText = s.slice(slash + 1);
    s = s.slice(0, slash);
  }
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const a = parseIp(s);
  if (!a) return undefined;
  const isV6Text = s.includes(':');
  const familyBits = isV6Text ? 128 : 32;
  let len = familyBits;
  if (lenText !== undefined) {
    if (!/^\d{1,3}$/.test(lenText)) return undefined;
    len = Number(lenText);
    if (len > familyBits) return undefined;
  }
  const bits = isV6Text ? len : 96 + len;
  // host bits must be zero
  for (let i = 0; i < 128; i++) {
    if (i < bits) continue;
    const byte = a.bytes[i >> 3]!;
    if (byte & (0x80 >> (i & 7))) return undefined;
  }
  return { text: text.trim(), bytes: a.bytes, bits };
}

/** True when the address lies in the network. */
export function cidrContains(net: Cidr, a: IpAddr): boolean {
  const full = net.bits >> 3;
  const nb = net.bytes;
  const ab = a.bytes;
  for (let i = 0; i < full; i++) if (nb[i] !== ab[i]) return false;
  const rest = net.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (nb[full]! & mask) === (ab[full]! & mask);
}
