// inet_pton() as glibc does it, for cidr tables: the family is chosen by the presence of ':' (as Postfix's
// CIDR_MATCH_ADDR_FAMILY does), so an IPv4-mapped IPv6 key is IPv6 here, as it is in Postfix.

/** glibc inet_pton4: exactly four decimal octets, no leading zeros, each at most 255. */
export function inetPton4(s: string, out: Uint8Array = new Uint8Array(4), at = 0): Uint8Array | undefined {
  let octets = 0;
  let value = -1;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c >= 48 && c <= 57) {
      if (value === 0) return undefined; // a leading zero
      value = (value < 0 ? 0 : value * 10) + (c - 48);
      if (value > 255) return undefined;
    } else if (c === 46) {
      if (value < 0 || octets === 4) return undefined;
      out[at + octets++] = value;
      value = -1;
    } else return undefined;
  }
  return octets === 4 ? out : undefined;
}

const hex = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

/** glibc inet_pton6: eight groups of 1-4 hex digits, one `::`, an optional trailing dotted quad. */
export function inetPton6(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  let tp = 0;
  let colonp = -1;
  let i = 0;
  if (s[0] === ':') {
    if (s[1] !== ':') return undefined;
    i = 1;
  }
  let curtok = i;
  let sawXdigit = false;
  let val = 0;
  let digits = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const h = hex(c);
    if (h >= 0) {
      if (++digits > 4) return undefined;
      val = (val << 4) | h;
      sawXdigit = true;
      continue;
    }
    if (c === 58) {
      curtok = i + 1;
      if (!sawXdigit) {
        if (colonp >= 0) return undefined;
        colonp = tp;
        continue;
      }
      if (i + 1 >= s.length) return undefined; // a trailing single colon
      if (tp + 2 > 16) return undefined;
      out[tp++] = (val >> 8) & 0xff;
      out[tp++] = val & 0xff;
      sawXdigit = false;
      val = 0;
      digits = 0;
      continue;
    }
    if (c === 46 && tp + 4 <= 16) {
      if (!inetPton4(s.slice(curtok), out, tp)) return undefined;
      tp += 4;
      sawXdigit = false;
      break;
    }
    return undefined;
  }
  if (sawXdigit) {
    if (tp + 2 > 16) return undefined;
    out[tp++] = (val >> 8) & 0xff;
    out[tp++] = val & 0xff;
  }
  if (colonp >= 0) {
    if (tp === 16) return undefined;
    const n = tp - colonp;
    for (let k = 1; k <= n; k++) {
      out[16 - k] = out[colonp + n - k]!;
      out[colonp + n - k] = 0;
    }
    tp = 16;
  }
  return tp === 16 ? out : undefined;
}

/** The address family by Postfix's rule (a ':' means IPv6) and its bytes, or undefined when malformed. */
export function inetPton(s: string): { v6: boolean; bytes: Uint8Array } | undefined {
  const v6 = s.includes(':');
  const bytes = v6 ? inetPton6(s) : inetPton4(s);
  return bytes ? { v6, bytes } : undefined;
}
