// The `queue:` section: where accepted mail is spooled, where it goes, and how retries back off.
// DKIM key paths are read by the queue runner; nothing here opens files.
import { z } from 'zod';
import { duration, hostname } from './common.ts';

/**
 * A next hop: moat's forms (maildir:/path, lmtp://host:port, smtp://host:port) or Postfix's transport
 * syntax (smtp:[host]:port, smtp:host for an MX lookup, lmtp:unix:/path, lmtp:host:port, error:5.x.x text,
 * discard:). The runner's parser (@moat/queue nextHopOf) reads it in full; this is the shape check.
 */
export const transport = z
  .string()
  .regex(
    /^(maildir:\/.+|lmtp:\/\/[^/\s]+:\d{1,5}|smtp:\/\/[^/\s]+:\d{1,5}|(smtp|relay):(\[[^\]\s]+\](:\d{1,5})?|[^\s:[\]/]+(:\d{1,5})?)?|lmtp:(unix:\/\S+|(inet:)?(\[[^\]\s]+\]|[^\s:[\]/]+)(:\d{1,5})?)|error:.*|discard:.*)$/,
    'expected maildir:/path, lmtp:unix:/path, lmtp:host:port, smtp:[host]:port, smtp:host, error:5.x.x text or discard:',
  );

/** Postfix's TLS security levels moat implements for outbound delivery (none and fingerprint are not). */
export const TLS_LEVELS = ['may', 'dane', 'encrypt', 'dane-only', 'verify', 'secure'] as const;
const tlsLevel = z.enum(TLS_LEVELS);
/** Levels for next hops without MX lookup (relayhost, LMTP): none (LMTP only), may, encrypt, verify, secure. */
export const HOP_TLS_LEVELS = ['none', 'may', 'encrypt', 'verify', 'secure'] as const;
/** smtp_tls_policy_maps keys: a domain, .domain, or a next hop without MX lookup: [host] or [host]:port. */
export const TLS_POLICY_KEY = /^(\.?[a-z0-9-]+(\.[a-z0-9-]+)*|\[[^\]\s]+\](:\d{1,5})?)$/i;

/** Policy table keys in lower case, as moat looks them up (Postfix's tables fold case); the first of two spellings wins. */
function lowerKeys<V>(table: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of Object.entries(table)) if (!(k.toLowerCase() in out)) out[k.toLowerCase()] = v;
  return out;
}

export const queueSection = z.strictObject({
  /** Spool directory (incoming, active, deferred, corrupt live under it). */
  dir: z.string().default('/var/spool/moat'),
  /** Where accepted mail for our domains goes. */
  transport: transport.default('maildir:/var/mail/moat'),
  /**
   * Per-destination transports, Postfix transport_maps keys: `domain`, `.domain` (its subdomains) and
   * `user@domain` (backup MX: `{ backup.example: "smtp:[10.0.0.5]:25" }`). Used for every address class.
   */
  transports: z.record(z.string(), transport).default({}),
  retry: z
    .strictObject({
      /** First retry after this long, doubling up to `max`. */
      initial: duration.default(300_000),
      max: duration.default(4 * 3_600_000),
    })
    .prefault({}),
  /** Send a delay warning to the sender after this long (the seed: delay_warning_time = 1h). */
  delay_warning: duration.default(3_600_000),
  /** Give up and bounce after this long (the seed: maximal_queue_lifetime = 7d). */
  max_lifetime: duration.default(7 * 86_400_000),
  /** Concurrent deliveries. */
  concurrency: z.number().int().min(1).default(10),
  dkim: z
    .array(
      z.strictObject({
        domain: hostname,
        selector: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'expected a DKIM selector'),
        /** Path to the PEM private key (RSA or Ed25519; `moat dkim keygen` writes one). */
        key: z.string(),
        /**
         * The signing table's left side: which From addresses this key signs. `alice@example.org`,
         * `*@example.org` (or `example.org`), `*.example.org` (subdomains). Default: the domain. Two entries
         * for one domain sign with both keys (a rotation).
         */
        match: z
          .string()
          .regex(/^(\*@|\*\.)?[^@\s*]+$|^[^@\s*]+@[^@\s*]+$/, 'expected alice@example.org, *@example.org, example.org or *.example.org')
          .optional(),
      }),
    )
    .default([]),
  /** Outbound TLS: levels and policies per next hop, MTA-STS and DANE for mail sent by MX lookup, TLS-RPT (docs/tls.md). */
  tls: z
    .strictObject({
      /**
       * Postfix's smtp_tls_security_level for deliveries by MX lookup (docs/tls.md): may and dane: opportunistic TLS,
       * DANE and MTA-STS where the domain publishes them (moat's default); encrypt: TLS required, unauthenticated;
       * dane-only: usable DNSSEC-validated TLSA required; verify: TLS with a certificate for the MX host name (system
       * CAs); secure: a certificate for the recipient domain or a subdomain. DANE and an enforced MTA-STS policy
       * still apply on top of every level.
       */
      security_level: tlsLevel.default('dane'),
      /**
       * Per next-hop destination (smtp_tls_policy_maps): `example.com` the domain, `.example.com` its subdomains (mail
       * by MX lookup), `[host]` / `[host]:port` a next hop without MX lookup (relayhost, transport `smtp:[host]:port`;
       * the next hop as written, a default :25 included when written, as Postfix looks it up). Any case; kept lower-cased.
       */
      policies: z
        .record(z.string().regex(TLS_POLICY_KEY, 'expected a domain, .domain for its subdomains, [host] or [host]:port'), tlsLevel)
        .transform(lowerKeys)
        .default({}),
      /**
       * LMTP next hops (`lmtp:host:port`, `lmtp:inet:...`): Postfix's lmtp_tls_security_level (default none: no
       * STARTTLS) and lmtp_tls_policy_maps (keys `host`, `[host]`, `host:port`, `[host]:port`: the next hop as written
       * without `inet:`; any case, kept lower-cased). LMTP over a unix socket never uses TLS.
       */
      lmtp: z
        .strictObject({
          security_level: z.enum(HOP_TLS_LEVELS).default('none'),
          policies: z
            .record(z.string().regex(/^(\[[^\]\s]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i, 'expected host, [host], host:port or [host]:port'), z.enum(HOP_TLS_LEVELS))
            .transform(lowerKeys)
            .default({}),
        })
        .prefault({}),
      /** DANE (RFC 7672): TLSA records, used only when dns.resolver validated them (the bundled Unbound does). */
      dane: z.boolean().default(true),
      /** MTA-STS (RFC 8461): the recipient domain's policy, fetched over HTTPS with the system's CAs. */
      mta_sts: z.boolean().default(true),
      /** Per DNS lookup (MX, TLSA, TXT); a lookup that times out defers the message, never sends it without policy. */
      lookup_timeout: duration.default(5000),
      /** Fetching one MTA-STS policy file; a timeout defers too. */
      fetch_timeout: duration.default(30_000),
      /** Where each session's TLS outcome is kept for `moat tls report` (default: <dir>/tlsrpt). */
      report_dir: z.string().optional(),
      /** The TLS-RPT report's organization-name (default: policy.hostname) and contact-info (RFC 8460 4.4). */
      report_organization: z.string().optional(),
      report_contact: z.string().optional(),
      /**
       * Queue yesterday's reports daily from inside mx (as `moat tls report --send`); default on when reporting is
       * configured (report_organization or report_contact set). One node of a cluster sends (a Redis lock per day).
       */
      report_send: z.boolean().optional(),
      /** When the daily send runs, HH:MM UTC. */
      report_time: z
        .string()
        .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (UTC)')
        .default('01:00'),
    })
    .prefault({}),
});

export type QueueSection = z.infer<typeof queueSection>;
