// Every Redis key the rate limits write, in one place (the README's key table mirrors this file).
// Keys share the hash tag `{rl}`, so one check's counters (client and user) are one atomic script on Redis Cluster too.
import { formatIp, maskIp, parseIp } from '@moat/policy';

export const DEFAULT_PREFIX = 'moat:{rl}:';

/** The limits, named by their moat.yaml keys (Postfix's names where Postfix has the limit). */
export const LIMITS = [
  'smtpd_client_message_rate_limit',
  'smtpd_client_recipient_rate_limit',
  'smtpd_client_auth_rate_limit',
  'sasl_user_message_rate_limit',
  'sasl_user_recipient_rate_limit',
  'auth_failure_limit',
] as const;
export type LimitName = (typeof LIMITS)[number];

/** The short tag of each limit inside key names. */
const TAG: Readonly<Record<LimitName, string>> = {
  smtpd_client_message_rate_limit: 'cm',
  smtpd_client_recipient_rate_limit: 'cr',
  smtpd_client_auth_rate_limit: 'ca',
  sasl_user_message_rate_limit: 'um',
  sasl_user_recipient_rate_limit: 'ur',
  auth_failure_limit: 'af',
};

/** Client limits are per service (port 25 and submission are separate services, as anvil counts them); the others are not. */
export const PER_SERVICE: ReadonlySet<LimitName> = new Set(['smtpd_client_message_rate_limit', 'smtpd_client_recipient_rate_limit', 'smtpd_client_auth_rate_limit']);

/**
 * `<prefix>cm:<service>:<network>` (client limits), `<prefix>um:<login>` (SASL user limits),
 * `<prefix>af:<network>` (AUTH failures): one hash each, fields s (window start), n (count), l (the
 * threshold: refused above it), u (window seconds), w (who, as shown), k (limit name), x (refusals in this
 * window), lx (last refusal). Logins are lower-cased and percent-encoded outside a safe alphabet.
 */
export function counterKey(prefix: string, limit: LimitName, subject: string, service: string): string {
  const who = PER_SERVICE.has(limit) ? `${safe(service)}:${safe(subject)}` : safe(subject);
  return `${prefix}${TAG[limit]}:${who}`;
}

/** SCAN pattern for every counter (glob characters in the prefix escaped). */
export function counterPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

function safe(s: string): string {
  return s
    .toLowerCase()
    .slice(0, 256)
    .replace(/[^a-z0-9.@_+\-/:]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * The network a client address is counted under (Postfix 3.8's smtpd_client_ipv4_prefix_length = 32 and
 * smtpd_client_ipv6_prefix_length = 84): a /32 is the address itself. Non-addresses are kept as written.
 */
export function clientBlock(address: string, v4Prefix: number, v6Prefix: number): string {
  const ip = parseIp(address.replace(/^\[|\]$/g, '').replace(/^ipv6:/i, ''));
  if (!ip) return address;
  const prefix = ip.v4 ? v4Prefix : v6Prefix;
  const text = formatIp(maskIp(ip, prefix));
  return prefix === (ip.v4 ? 32 : 128) ? text : `${text}/${prefix}`;
}
