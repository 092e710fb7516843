// TLS levels for next hops without MX lookup, as Postfix applies them: the relayhost and `smtp:[host]:port`
// (smtp_tls_security_level, smtp_tls_policy_maps) and LMTP (lmtp_tls_*). Trusts the config; judges the peer's certificate.
import { pkixCheck, secureCheck, type HostTls } from './outbound.ts';
import { systemCas } from './pki.ts';

/** Postfix's levels as they apply to a next hop without MX lookup (`none`: LMTP only). */
export type HopTlsLevel = 'none' | 'may' | 'dane' | 'encrypt' | 'dane-only' | 'verify' | 'secure';

/** A next hop without MX lookup, as the queue's router sees it. */
export interface Hop {
  kind: 'smtp' | 'lmtp';
  host: string;
  port: number;
  /** LMTP over a unix socket: never TLS (nothing on a wire). */
  path?: string | undefined;
  /** The transport spec as written (`lmtp:inet:[h]:24`, ...): the lookup key of hops from older queue files. */
  raw?: string | undefined;
  /** The destination verbatim (`[h]:25`, `h:24`, the relayhost value; @moat/address NextHop.dest): the lookup key. */
  dest?: string | undefined;
}

/** What the SMTP/LMTP client does toward one next hop. */
export interface HopTls {
  starttls: 'never' | 'opportunistic';
  /** A mandatory level's requirement (never sent in clear, the check decides). */
  tls?: HostTls | undefined;
  /** This hop cannot be used at its level (dane-only without MX lookup): every delivery defers. */
  refuse?: string | undefined;
  level: HopTlsLevel;
  /** The smtp_tls_policy_maps / lmtp_tls_policy_maps key that matched, if one did. */
  key?: string | undefined;
}

/**
 * Postfix's lookup key (postconf.5 smtp_tls_policy_maps): "the verbatim next-hop ... This includes any enclosing
 * square brackets and any non-default destination server port suffix"; the LMTP socket type prefix is not included.
 * Verbatim means as written: smtp_connect.c strips only `inet:` and nothing normalises the port, so
 * `[h]:25` is looked up as `[h]:25` and `[h]` as `[h]` (test/postfix-hop-key.test.ts, against Debian Postfix).
 * Lower-cased: Postfix's tables fold the key's case. Hops without `dest` (queue files written by an older moat)
 * fall back to the text of `raw` after the transport name, else to `[host]` (LMTP: `host`) plus a non-default port.
 */
export function hopPolicyKey(hop: Hop): string {
  if (hop.dest !== undefined && hop.dest !== '') return hop.dest.toLowerCase();
  const m = /^(?:smtp|relay|lmtp):(?!\/\/)(?:inet:)?(\S+)$/i.exec(hop.raw ?? '');
  if (m) return (m[1] as string).toLowerCase();
  const host = hop.kind === 'smtp' ? `[${hop.host.toLowerCase()}]` : hop.host.toLowerCase();
  return `${host}${hop.port === (hop.kind === 'smtp' ? 25 : 24) ? '' : `:${hop.port}`}`;
}

export interface NextHopTlsOptions {
  /** smtp_tls_security_level (queue.tls.security_level) and smtp_tls_policy_maps (queue.tls.policies). */
  smtp: { level: HopTlsLevel; policies?: Readonly<Record<string, HopTlsLevel>> };
  /** lmtp_tls_security_level and lmtp_tls_policy_maps (queue.tls.lmtp). */
  lmtp: { level: HopTlsLevel; policies?: Readonly<Record<string, HopTlsLevel>> };
  /** CAs for verify and secure; default: the system's. */
  ca?: string[];
}

/** The TLS a next hop without MX lookup gets. */
export function nextHopTls(o: NextHopTlsOptions): (hop: Hop) => HopTls {
  let ca: string[] | undefined = o.ca;
  return (hop) => {
    const conf = hop.kind === 'smtp' ? o.smtp : o.lmtp;
    const key = hopPolicyKey(hop);
    const table = conf.policies?.[key];
    const level = table ?? conf.level;
    const at = { level, ...(table ? { key } : {}) };
    if (hop.path) return { starttls: 'never', ...at };
    if (level === 'none') return { starttls: 'never', ...at };
    // dane without MX lookup: moat uses no TLSA here (docs/tls.md), so it is may; dane-only cannot be met
    if (level === 'may' || level === 'dane') return { starttls: 'opportunistic', ...at };
    if (level === 'dane-only') return { starttls: 'opportunistic', refuse: `TLS level dane-only for ${key}: moat applies DANE only to deliveries by MX lookup`, ...at };
    const base = { required: true, policyType: 'no-policy-found' as const, policyString: [] };
    if (level === 'encrypt') return { starttls: 'opportunistic', tls: { ...base, id: 'hop:encrypt', options: { rejectUnauthorized: false, servername: hop.host }, check: () => undefined }, ...at };
    ca ??= systemCas();
    // verify: the certificate names the host (smtp_tls_verify_cert_match = hostname); secure: the next hop or a
    // subdomain (smtp_tls_secure_cert_match = nexthop, dot-nexthop), which without MX lookup is the host too
    if (level === 'verify') return { starttls: 'opportunistic', tls: { ...base, id: 'hop:verify', options: { rejectUnauthorized: false, servername: hop.host, ca }, check: pkixCheck(hop.host) }, ...at };
    const dotNexthop = hop.kind === 'smtp'; // lmtp_tls_secure_cert_match = nexthop
    const check = secureCheck(hop.host, hop.host);
    return {
      starttls: 'opportunistic',
      tls: {
        ...base,
        id: `hop:secure:${hop.host}:${dotNexthop}`,
        options: { rejectUnauthorized: false, servername: hop.host, ca, checkServerIdentity: () => undefined },
        check: dotNexthop ? check : (sock) => pkixCheck(hop.host)(sock),
      },
      ...at,
    };
  };
}
