// IP literals to client networks (/24, /64 by default) and CIDR lists as BlockLists.
// Trusts nothing: every input is a string a remote client or an operator wrote; bad ones are refused.
import { BlockList, isIP } from 'node:net';
import { formatIp, parseIp } from '@moat/policy';

export type Family = 4 | 6;

/** An IPv4-mapped IPv6 literal (`::ffff:192.0.2.1`) is an IPv4 client. */
export function canonicalAddress(address: string): { address: string; family: Family } | undefined {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  if (/^ipv6:/i.test(a)) a = a.slice(5);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped?.[1]) a = mapped[1];
  const f = isIP(a);
  if (f === 4) return { address: a, family: 4 };
  if (f === 6) return { address: a.toLowerCase(), family: 6 };
  return undefined;
}

/** `192.0.2.77` -> `192.0.2.0/24`; `2001:db8:1:2::5` -> `2001:db8:1:2::/64`. Undefined for non-IPs. */
export function clientNetwork(address: string, v4Prefix = 24, v6Prefix = 64): string | undefined {
  const c = canonicalAddress(address);
  const ip = c && parseIp(c.address);
  if (!ip) return undefined;
  // the engine's 16-byte form keeps IPv4 mapped under ::ffff:0:0/96, so an IPv4 /24 masks at bit 120
  const bits = ip.v4 ? 96 + v4Prefix : v6Prefix;
  const bytes = new Uint8Array(ip.bytes);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    if (keep < 8) bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${formatIp({ v4: ip.v4, bytes })}/${ip.v4 ? v4Prefix : v6Prefix}`;
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

/** A set of CIDRs, v4 and v6, checked with node's BlockList. */
export class CidrSet {
  private list = new BlockList();
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
      this.list.addSubnet(p.address, p.prefix, p.family === 4 ? 'ipv4' : 'ipv6');
      this.count++;
    }
    return bad;
  }

  get size(): number {
    return this.count;
  }

  has(address: string): boolean {
    if (this.count === 0) return false;
    const c = canonicalAddress(address);
    if (!c) return false;
    return this.list.check(c.address, c.family === 4 ? 'ipv4' : 'ipv6');
  }
}
