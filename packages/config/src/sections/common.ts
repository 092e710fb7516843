// Small zod building blocks shared by the sections: durations, sizes, listen addresses, networks.
// Trusts nothing: every value from YAML or the environment passes through these checks.
import { ResolverConfigError, parseResolver } from '@moat/dns';
import { parseCidr } from '@moat/policy';
import { parseHostPort } from '../host-port.ts';
import { z } from 'zod';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `1500ms`, `60s`, `5m`, `1h`, `35d`, `1w` or a bare number of seconds into milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(v);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

/** A duration in YAML (`60s`, `1h`, `1500ms`, or a number of seconds); milliseconds once parsed. */
export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 1500ms, 60s, 5m, 1h, 35d (a bare number means seconds)' });
    return z.NEVER;
  }
  return ms;
});

/** `host:port` or `[v6]:port` or `port` alone (then 0.0.0.0). Kept as text; apps split it. */
export const listenAddress = z.string().regex(/^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/, 'expected host:port, [ipv6]:port or a port number');

/** host:port for a service we connect to. */
/** A service to connect to: host:port or [ipv6]:port, port 1-65535, as parseHostPort (the one reader) reads it later. */
export const hostPort = z
  .string()
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port or [ipv6]:port')
  .refine((s) => {
    try {
      return parseHostPort(s, { defaultHost: '' }).port > 0;
    } catch {
      return false;
    }
  }, 'expected a port from 1 to 65535');

/**
 * A DNS resolver to ask (dns.resolver): `IP`, `IP:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, port 53 when none
 * is given, as @moat/dns parseResolver (the one reader, used again where the resolver is built) reads it. Host names
 * are refused: resolving one would need the machine's own DNS.
 */
export const resolverAddress = z.string().superRefine((s, ctx) => {
  try {
    parseResolver(s);
  } catch (e) {
    if (!(e instanceof ResolverConfigError)) throw e;
    ctx.addIssue({ code: 'custom', message: e.message });
  }
});

/** A network in Postfix's mynetworks syntax (`192.0.2.0/24`, `[2001:db8::]/32`, `::1`). */
export const network = z.string().refine((s) => parseCidr(s) !== undefined, {
  message: 'expected a network: address/prefix (IPv4 or IPv6, host bits zero), e.g. 192.0.2.0/24 or [2001:db8::]/32',
});

/** A DNS hostname (letters, digits, hyphens, at least one dot). */
export const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\.?$/, 'expected a fully-qualified host name such as mx1.example.org');

export const port = z.number().int().min(1).max(65535);
