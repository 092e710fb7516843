// Builds the DNS name to ask for one list query: reversed IPv4 octets, IPv6 nibbles (RFC 5782), or a domain.
// Trusts nothing in the key: it is a client address or a name a remote client chose.
import { isIPv4, isIPv6 } from 'node:net';
import { type DnsTarget, formatIp, parseIp } from '@moat/policy';

export type QueryName = { ok: true; name: string } | { ok: false; detail: string };

const MAX_NAME = 253;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Expand an IPv6 literal to 8 16-bit groups; undefined when it is not one (parsed by @moat/policy's parseIp). */
export function expandIPv6(address: string): number[] | undefined {
  if (!isIPv6(address) || address.includes('%')) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  return g;
}

/** `192.0.2.1` -> `1.2.0.192`. */
export function reverseIPv4(address: string): string {
  return address.split('.').reverse().join('.');
}

/** `2001:db8::1` -> `1.0.0.0....8.b.d.0.1.0.0.2` (32 nibbles, least significant first). */
export function reverseIPv6(address: string): string | undefined {
  const g = expandIPv6(address);
  if (!g) return undefined;
  const hex = g.map((n) => n.toString(16).padStart(4, '0')).join('');
  return [...hex].reverse().join('.');
}

/** IPv4 inside an IPv4-mapped IPv6 literal (`::ffff:192.0.2.1`), else undefined. */
export function mappedIPv4(address: string): string | undefined {
  if (!isIPv6(address) || address.includes('%')) return undefined;
  const ip = parseIp(address);
  return ip?.v4 ? formatIp(ip) : undefined;
}

/** Lower-case, strip one trailing dot, check it is a plausible host name (LDH plus `_`). */
export function normaliseDomain(raw: string): QueryName {
  let d = raw.trim().toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d === '') return { ok: false, detail: 'empty name' };
  if (d.startsWith('[')) return { ok: false, detail: 'address literal, not a domain' };
  if (isIPv4(d) || isIPv6(d)) return { ok: false, detail: 'IP address, not a domain' };
  if (d.length > MAX_NAME) return { ok: false, detail: 'name too long' };
  if (!d.split('.').every((l) => LABEL.test(l))) return { ok: false, detail: 'not a valid domain name' };
  return { ok: true, name: d };
}

/**
 * The name to query for one (zone, target, key). Client keys are IP literals (an IPv4-mapped IPv6
 * address is looked up as IPv4, as Postfix does); other targets are domains (a sender address is cut
 * at its last `@`).
 */
export function queryName(zone: string, target: DnsTarget, key: string): QueryName {
  if (target === 'client') {
    const ip = key.trim();
    if (isIPv4(ip)) return { ok: true, name: `${reverseIPv4(ip)}.${zone}` };
    const v4 = mappedIPv4(ip);
    if (v4) return { ok: true, name: `${reverseIPv4(v4)}.${zone}` };
    const v6 = reverseIPv6(ip);
    if (v6) return { ok: true, name: `${v6}.${zone}` };
    return { ok: false, detail: 'client address is not an IP literal' };
  }
  const domainPart = target === 'sender-domain' && key.includes('@') ? key.slice(key.lastIndexOf('@') + 1) : key;
  const d = normaliseDomain(domainPart);
  if (!d.ok) return d;
  const name = `${d.name}.${zone}`;
  if (name.length > MAX_NAME) return { ok: false, detail: 'name too long for this zone' };
  return { ok: true, name };
}

/** The probe name for a health check: `probe` is an IP literal or a bare label (`test`, `invalid`). */
export function probeName(zone: string, probe: string): string {
  if (isIPv4(probe)) return `${reverseIPv4(probe)}.${zone}`;
  const v6 = reverseIPv6(probe);
  return v6 ? `${v6}.${zone}` : `${probe}.${zone}`;
}
