// IP literals to client networks (/24, /64 by default) and CIDR lists as BlockLists.
// Trusts nothing: every input is a string a remote client or an operator wrote; bad ones are refused.
import { BlockList, isIP } from 'node:net';
import { formatIp, maskIp, parseIp, unmapIPv4 } from '@moat/policy';

export type Family = 4 | 6;

/** An IPv4-mapped IPv6 literal (`::ffff:192.0.2.1`) is an IPv4 client. */
export function canonicalAddress(address: string): { address: string; family: Family } | undefined {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (/^ipv6:/i.test(a)) a = a.slice(5);
  a = unmapIPv4(a);
  const f = isIP(a);
  if (f === 4) return { address: a, family: 4 };
  if (f === 6) return { address: a.toLowerCase(), family: 6 };
  return undefined;
}

/** `192.0.2.77` -> `192.0.2.0/24`; `2001:db8:1:2::5` -> `2001:db8:1:2::/64`. Undefined for non-IPs. */
export function clientNetwork(address: string, v4Prefix = 24, v6Prefix = 64): string | undefined {
  const n = ipv4Number(address);
  if (n >= 0) {
    // The common case without the 16-byte detour: a plain dotted quad.
    const m = maskV4(n, v4Prefix);
    return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${v4Prefix}`;
  }
  const c = canonicalAddress(address);
  const ip = c && parseIp(c.address);
  if (!ip) return undefined;
  const prefix = ip.v4 ? v4Prefix : v6Prefix;
  return `${formatIp(maskIp(ip, prefix))}/${prefix}`;
}

/** Parse `net/len` (or a bare address) into BlockList terms; undefined when malformed. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: Family } | undefined {
  const [addr = '', len] = cidr.trim().split('/');
  const c = canonicalAddress(addr);
  if (!c) return undefined;
  const max = c.family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (len !== undefined && !/^\d+$/.test(len))) return undefined;
  return { address: c.address, prefix, family: c.family };
}

/** A plain dotted quad (`192.0.2.1`) as an unsigned 32-bit number; -1 for anything else. */
export function ipv4Number(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // no leading zeros (isIP refuses them too)
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/**
 * A set of CIDRs, v4 and v6. IPv4 (the common case, checked per request) is a hash lookup per
 * distinct prefix length; IPv6 goes to node's BlockList.
 */
export class CidrSet {
  private list = new BlockList();
  private readonly v4 = new Map<number, Set<number>>();
  private v4Prefixes: number[] = [];
  private v6count = 0;
  private count = 0;

  /** Adds every valid CIDR; returns the ones refused as malformed. */
  add(cidrs: Iterable<string>): string[] {
    const bad: string[] = [];
    for (const cidr of cidrs) {
      const p = parseCidr(cidr);
      if (!p) {
        bad.push(cidr);
        continue;
      }
      if (p.family === 4) {
        let nets = this.v4.get(p.prefix);
        if (!nets) {
          nets = new Set();
          this.v4.set(p.prefix, nets);
          this.v4Prefixes = [...this.v4.keys()].sort((x, y) => y - x);
        }
        nets.add(maskV4(ipv4Number(p.address), p.prefix));
      } else {
        this.list.addSubnet(p.address, p.prefix, 'ipv6');
        this.v6count++;
      }
      this.count++;
    }
    return bad;
  }

  get size(): number {
    return this.count;
  }

  has(address: string): boolean {
    if (this.count === 0) return false;
    let n = ipv4Number(address);
    if (n < 0) {
      const c = canonicalAddress(address);
      if (!c) return false;
      if (c.family === 6) return this.v6count > 0 && this.list.check(c.address, 'ipv6');
      n = ipv4Number(c.address);
      if (n < 0) return false;
    }
    for (const prefix of this.v4Prefixes) if (this.v4.get(prefix)!.has(maskV4(n, prefix))) return true;
    return false;
  }
}

function maskV4(n: number, prefix: number): number {
  return prefix === 0 ? 0 : (n & (0xffffffff << (32 - prefix))) >>> 0;
}
