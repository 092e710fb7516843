// Parses the configured resolver (`IP`, `IP:port`, `[v6]:port`) and says whether it is ours.
// Trusts config; refuses host names, because resolving one would need the machine's own DNS.
import { isIP, isIPv4 } from 'node:net';
import { expandIPv6 } from './query-name.ts';

export interface ResolverAddress {
  host: string;
  port: number;
  /** The form `Resolver.setServers` takes. */
  server: string;
}

export class ResolverConfigError extends Error {
  readonly code = 'DNSLIST_BAD_RESOLVER';
}

export function parseResolver(text: string): ResolverAddress {
  const t = text.trim();
  let host = t;
  let port = 53;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  const v4 = /^([^:]+):(\d+)$/.exec(t);
  if (v6) {
    host = v6[1] ?? '';
    if (v6[2]) port = Number(v6[2]);
  } else if (v4) {
    host = v4[1] ?? '';
    port = Number(v4[2]);
  }
  if (!isIP(host)) throw new ResolverConfigError(`resolver must be an IP address (optionally :port), got ${JSON.stringify(text)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ResolverConfigError(`bad resolver port in ${JSON.stringify(text)}`);
  const server = isIPv4(host) ? `${host}:${port}` : `[${host}]:${port}`;
  return { host, port, server };
}

/** Loopback or private (RFC 1918, RFC 4193, link-local): a resolver of our own stack. */
export function isLocalAddress(host: string): boolean {
  if (isIPv4(host)) {
    const [a = 0, b = 0] = host.split('.').map(Number);
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  const g = expandIPv6(host);
  if (!g) return false;
  const first = g[0] ?? 0;
  if (g.slice(0, 7).every((n) => n === 0) && g[7] === 1) return true; // ::1
  if (g.slice(0, 5).every((n) => n === 0) && g[5] === 0xffff) {
    const a = g[6] ?? 0;
    const b = g[7] ?? 0;
    return isLocalAddress(`${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`);
  }
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}
