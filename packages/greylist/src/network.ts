// IP literals to client networks (/24, /64 by default) and CIDR lists as BlockLists.
// Trusts nothing: every input is a string a remote client or an operator wrote; bad ones are refused.
import { BlockList, isIP } from 'node:net';

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

/** The 16 bytes of an IPv6 literal. */
export function v6Bytes(address: string): number[] {
  let a = address;
  // A trailing dotted quad (::1.2.3.4) becomes two hextets.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (quad?.[1]) {
    const o = quad[1].split('.').map(Number);
    a = a.slice(0, -quad[1].length) + (((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16) + ':' + (((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16);
  }
  const [head = '', tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const bytes: number[] = [];
  for (const g of groups) {
    const v = Number.parseInt(g || '0', 16);
    bytes.push((v >> 8) & 0xff, v & 0xff);
  }
  return bytes;
}

function v6String(bytes: number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  // Compress the longest run of zero groups, like inet_ntop.
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

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return bits === 8 ? b : b & ((0xff << (8 - bits)) & 0xff);
  });
}

/** `192.0.2.77` -> `192.0.2.0/24`; `2001:db8:1:2::5` -> `2001:db8:1:2::/64`. Undefined for non-IPs. */
export function clientNetwork(address: string, v4Prefix = 24, v6Prefix = 64): string | undefined {
  const c = canonicalAddress(address);
  if (!c) return undefined;
  if (c.family === 4) {
    const masked = maskBytes(c.address.split('.').map(Number), v4Prefix);
    return `${masked.join('.')}/${v4Prefix}`;
  }
  return `${v6String(maskBytes(v6Bytes(c.address), v6Prefix))}/${v6Prefix}`;
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
