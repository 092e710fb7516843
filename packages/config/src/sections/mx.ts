// The `mx:` section: the SMTP gateway's listeners, TLS, AUTH, limits and timeouts.
// Certificate and key paths are read by the gateway; nothing here opens files or sockets.
import { z } from 'zod';
import { duration, hostname, listenAddress, network } from './common.ts';
import { rateLimitsSection } from './rate-limits.ts';

/** A listener's sender-login check: one of Postfix's four restrictions, or none. */
export const SENDER_LOGIN_CHECKS = [
  'reject_sender_login_mismatch',
  'reject_authenticated_sender_login_mismatch',
  'reject_known_sender_login_mismatch',
  'reject_unauthenticated_sender_login_mismatch',
  'off',
] as const;
const senderLoginCheck = z.enum(SENDER_LOGIN_CHECKS);

export const mxSection = z.strictObject({
  listen: z
    .strictObject({
      /** Port 25: mail from the world. */
      smtp: z.array(listenAddress).default(['0.0.0.0:25']),
      /** Port 587: submission by authenticated users (AUTH only after STARTTLS). */
      submission: z.array(listenAddress).default(['0.0.0.0:587']),
    })
    .prefault({}),
  /** Name in the banner and EHLO reply; defaults to policy.hostname. */
  hostname: hostname.optional(),
  /** Greeting text after `220 <hostname> ESMTP ` (smtp-server writes that part itself). */
  banner: z.string().default('moat'),
  tls: z
    .strictObject({
      cert: z.string().optional(),
      key: z.string().optional(),
      /** Ask clients for a certificate (the seed's smtpd_tls_ask_ccert = yes); never required. */
      request_client_cert: z.boolean().default(true),
      /** Where the gateway keeps the self-signed pair it generates when cert/key are not set. */
      state_dir: z.string().default('/var/lib/moat/mx'),
      /** Lowest TLS version accepted (TLS 1.0/1.1 are never accepted). */
      min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      /**
       * ACME certificates (HTTP-01, docs/tls.md): issued for `domains` (default: the MX hostname), renewed ahead of
       * expiry, kept under state_dir/acme. Unset: the configured cert/key, else the generated self-signed pair.
       */
      acme: z
        .strictObject({
          /** The CA's directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
          directory: z.string().regex(/^https?:\/\/\S+$/, 'expected the ACME directory URL'),
          /** Account contact (expiry notices). */
          email: z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an email address').optional(),
          /** Names on the certificate: the MX hostname, then the submission name(s). */
          domains: z.array(hostname).default([]),
          /** Where the HTTP-01 responder listens (port 80 must reach it from the CA). */
          http_listen: listenAddress.default('0.0.0.0:80'),
          renew_before: duration.default(30 * 86_400_000),
          check_interval: duration.default(12 * 3_600_000),
          /** A private ACME CA's TLS root (PEM file); default: the system's CAs. */
          directory_ca: z.string().optional(),
        })
        .optional(),
    })
    .prefault({})
    .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'expected both tls.cert and tls.key, or neither' })
    .refine((t) => !(t.acme && t.cert), { message: 'expected tls.acme or tls.cert/tls.key, not both' }),
  /**
   * Serve this MX's MTA-STS policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt with the MX certificate
   * (docs/tls.md; with ACME, list the mta-sts.DOMAIN names in tls.acme.domains). Unset: not served.
   */
  mta_sts: z
    .strictObject({
      listen: listenAddress.default('0.0.0.0:443'),
      /** Start with testing (RFC 8461 5), enforce once the TLS reports are clean. */
      mode: z.enum(['testing', 'enforce']).default('testing'),
      /** Seconds senders may cache the policy. */
      max_age: z.number().int().min(86_400).max(31_557_600).default(604_800),
      /** MX patterns besides this MX's hostname (the other MX hosts of the domains). */
      mx: z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]+$/i, 'expected a host name or *.domain')).default([]),
    })
    .optional(),
  auth: z
    .strictObject({
      /** File of `user:hash` lines for SASL PLAIN/LOGIN; unset = no AUTH offered. */
      users_file: z.string().optional(),
      /** Offer AUTH only over TLS (the seed's smtpd_tls_auth_only = yes). */
      require_tls: z.boolean().default(true),
      /**
       * Failed AUTH attempts per client IP within failure_window before AUTH answers 454, counted by every MX
       * together through greylist.redis (a brute force spread over the nodes is one); each MX also keeps its
       * own count, which still holds while Redis is away.
       */
      max_failures: z.number().int().min(1).default(5),
      failure_window: duration.default(600_000),
    })
    .prefault({}),
  /**
   * Who may send as whom: the sender-login restriction each listener runs at MAIL FROM (Postfix's
   * reject_*_sender_login_mismatch over policy.sender_login_maps), answered at once with Postfix's
   * `553 5.7.1 <addr>: Sender address rejected: not owned by user alice`. `off` runs none. Mail of a logged-in
   * client is DKIM-signed only where its sender passed this check (off: never). docs/design.md says more.
   */
  sender_login: z
    .strictObject({
      /** Port 587: every client is logged in, so each sender must be its own (default). */
      submission: senderLoginCheck.default('reject_sender_login_mismatch'),
      /** Port 25: logged-in clients only; mail from the world is left to the policy lists (default). */
      smtp: senderLoginCheck.default('reject_authenticated_sender_login_mismatch'),
      /**
       * moat's addition to Postfix's rule: a login that is an address (alice@example.org) owns that address, and a
       * bare login (alice) owns alice@ each domain of ours, with or without an extension, besides what the maps
       * give it. With no maps it is all a login owns; false: only the maps say (Postfix: no maps, no sender at all).
       */
      login_owns_itself: z.boolean().default(true),
    })
    .prefault({}),
  /** SPF/DKIM/DMARC verification (mailauth) recorded in an Authentication-Results header. */
  auth_results: z
    .strictObject({
      enabled: z.boolean().default(true),
      timeout: duration.default(10_000),
      /**
       * The authserv-id our Authentication-Results name (RFC 8601), default mx.hostname. Forged fields with it
       * (or with our host name) are removed from mail of untrusted clients. A cluster sets one for all nodes.
       */
      authserv_id: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'expected a host or domain name (letters, digits, dots, hyphens)')
        .max(253)
        .optional(),
    })
    .prefault({}),
  /**
   * DMARC enforcement at end of DATA (docs/dmarc.md): what a failing message gets, per the sender domain's
   * policy as mailauth applied it (p=, sp=/np= for subdomains, t=y one level down, pct= sampled).
   * `enforce` answers 550 5.7.1, `quarantine` holds the message, `tag` only records it (Authentication-Results
   * and X-Moat-DMARC). mynetworks, logged-in clients, mx.trusted_relays and trusted ARC sealers are only tagged.
   */
  dmarc: z
    .strictObject({
      /** p=reject (or sp=reject for a subdomain): refuse by default, as OpenDMARC's RejectFailures = true does. */
      on_reject: z.enum(['enforce', 'quarantine', 'tag']).default('enforce'),
      /** p=quarantine: hold for review by default. */
      on_quarantine: z.enum(['quarantine', 'tag']).default('quarantine'),
      /**
       * Forwarders (mailing lists) whose ARC seal is trusted: the newest ARC-Seal's d= (or a parent domain of
       * it). A failing message is only tagged when the whole chain validates (cv=pass), its newest sealer is on
       * this list, and that sealer's ARC-Authentication-Results says dmarc=pass for the same From domain.
       */
      trusted_arc_sealers: z.array(hostname).default([]),
    })
    .prefault({}),
  /** Maximum message size in bytes (the seed's message_size_limit). */
  size_limit: z.number().int().min(1024).default(81_920_000),
  limits: z
    .strictObject({
      recipients: z.number().int().min(1).default(1000),
      /** Commands per session before the client is cut off (abuse guard). */
      commands: z.number().int().min(10).default(1000),
      /**
       * Longest command line, bytes (RFC 5321 minimum is 1000); a longer one gets 500 5.5.2. DATA lines are not
       * limited: longer ones are accepted unchanged, as Postfix does (apps/mx/src/receive.ts says why).
       */
      line_length: z.number().int().min(1000).default(4096),
      /** Simultaneous sessions per client IP. */
      per_ip_concurrency: z.number().int().min(1).default(10),
      /** New sessions per client IP per minute. */
      per_ip_rate: z.number().int().min(1).default(60),
      /** Simultaneous sessions in all. */
      max_connections: z.number().int().min(1).default(500),
      /** Errors before the session is dropped (Postfix smtpd_hard_error_limit). */
      errors: z.number().int().min(1).default(20),
    })
    .prefault({}),
  /** Rate limits shared by every MX (Redis); all off by default, as in Postfix. */
  rate_limits: rateLimitsSection,
  timeouts: z
    .strictObject({
      /** Idle time waiting for a command (Postfix smtpd_timeout is 300s). */
      command: duration.default(300_000),
      /** Idle time during DATA. */
      data: duration.default(600_000),
      /** Whole-session cap. */
      session: duration.default(1_800_000),
      /** Time the engine may take for one decision before the gateway tempfails. */
      decision: duration.default(10_000),
      /**
       * Pause before the 220 greeting; a client that talks first gets 421 (an early-talker check, like
       * postscreen's greet wait but short). 0 greets at once.
       */
      greet_pause: duration.default(0),
    })
    .prefault({}),
  /**
   * The other moat nodes of a cluster (CIDRs): mail they relay keeps their X-Spam* verdict and
   * Authentication-Results, and is not scanned or SPF-checked again. Everyone else's such headers are removed
   * as forged, mynetworks hosts included (a list server there may relay Internet mail). Empty by default.
   */
  trusted_relays: z.array(network).default([]),
  xclient: z
    .strictObject({
      /** Networks allowed to use XCLIENT (e.g. a front proxy); empty = XCLIENT refused. */
      trusted_networks: z.array(network).default([]),
    })
    .prefault({}),
  /**
   * Append every decision to the shared decision journal (Redis, greylist.redis) so `moat explain`
   * and the console can answer "why was this deferred?". Background writes; never delays mail.
   */
  journal: z.boolean().default(true),
});

export type MxSection = z.infer<typeof mxSection>;
