// Parses a configured resolver (`IP`, `IP:port`, `[v6]:port`) and says whether it is one of our own stack.
// Trusts config; refuses host names, because resolving one would need the machine's own DNS.
import { isIPv4 } from 'node:net';
import { cidrContains, type Cidr, parseCidr, parseIp } from '@moat/policy';

export interface ResolverAddress {
  host: string;
  port: number;
  /** The form `Resolver.setServers` takes. */
  server: string;
}

export class ResolverConfigError extends Error {
  readonly code = 'DNSLIST_BAD_RESOLVER';
}

/**
 * Not @moat/config's parseHostPort (config depends on this package): here a bare address, IPv6 unbracketed too,
 * means port 53, and port 0 is refused (docs/design.md, "Still written twice").
 */
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
  if (!parseIp(host)) throw new ResolverConfigError(`resolver must be an IP address (optionally :port), got ${JSON.stringify(text)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ResolverConfigError(`bad resolver port in ${JSON.stringify(text)}`);
  const server = isIPv4(host) ? `${host}:${port}` : `[${host}]:${port}`;
  return { host, port, server };
}

// loopback, RFC 1918, IPv6 loopback, ULA (RFC 4193) and link-local; IPv4-mapped forms count as their IPv4
const LOCAL: Cidr[] = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1/128', 'fc00::/7', 'fe80::/10'].map(
  (c) => parseCidr(c) as Cidr,
);

/** Loopback or private: a resolver of our own stack (big DNS lists refuse public resolvers). */
export function isLocalAddress(host: string): boolean {
  const ip = parseIp(host);
  return ip !== undefined && LOCAL.some((net) => cidrContains(net, ip));
}
