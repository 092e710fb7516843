// The gateway's view of the config: the `mx`, `spamd`, `dns` sections in the names and units (ms) apps/mx uses.
// Trusts the parsed config: every default is the schema's; this adds none (there is one reader).
import type { Config } from '../schema.ts';

export interface SpamdView {
  enabled: boolean;
  host: string;
  port: number;
  timeoutMs: number;
  /** spamd.connect_timeout: the TCP connect alone. */
  connectTimeoutMs: number;
  maxConnections: number;
  /** Reject (550 5.7.1) at or above this score; undefined: spamd's own required_score. */
  rejectScore?: number | undefined;
  /** Quarantine at or above this score (below rejectScore); undefined: no quarantine band. */
  quarantineScore?: number | undefined;
  /** spamd down or slow: accept with `X-Spam-Status: unchecked`, or answer 451 4.7.1. */
  onFailure: 'accept' | 'tempfail';
  /** Larger messages are not scanned (spamc's -s); they are accepted with `X-Spam-Status: unchecked`. */
  maxScanBytes: number;
}

export interface MxView {
  /** Banner and Received `by` name (mx.hostname, else policy.hostname). */
  hostname: string;
  /** Appended to `220 <hostname> ESMTP ` (smtp-server writes that part). */
  banner: string;
  tls: {
    /** STARTTLS offered. */
    enabled: boolean;
    certFile?: string | undefined;
    keyFile?: string | undefined;
    /** Where a self-signed pair is written on first start when no files are configured. */
    stateDir: string;
    /** Ask for a client certificate (the seed's smtpd_tls_ask_ccert); never required. */
    requestClientCert: boolean;
    minVersion: 'TLSv1.2' | 'TLSv1.3';
  };
  auth: {
    enabled: boolean;
    /** The users file (@moat/auth's format). */
    usersFile?: string | undefined;
    /** Failed AUTH attempts per client address in `failureWindowMs` before AUTH is refused. */
    maxFailures: number;
    failureWindowMs: number;
  };
  limits: {
    maxMessageSize: number;
    maxRecipients: number;
    maxCommands: number;
    maxLineLength: number;
    /** Idle timeout between commands (Postfix smtpd_timeout). */
    idleTimeoutMs: number;
    /** Idle timeout while the client sends DATA (mx.timeouts.data): no byte for this long ends the session. */
    dataIdleTimeoutMs: number;
    /** Hard cap on one session's lifetime (slow clients). */
    sessionMaxMs: number;
    /** Budget of one MAIL/RCPT decision (engine + ports) before the gateway answers 451. */
    decisionTimeoutMs: number;
    /** Pause before the greeting (early-talker check); 0 = greet at once. */
    greetPauseMs: number;
    /** Concurrent sessions per client address (anvil: smtpd_client_connection_count_limit). */
    perIpConcurrency: number;
    /** New sessions per client address per minute (anvil: smtpd_client_connection_rate_limit). */
    perIpRatePerMinute: number;
    maxClients: number;
    /** Error replies (4xx/5xx) in one session before it is cut off with 421 (smtpd_hard_error_limit). */
    maxErrors: number;
  };
  /** Peer addresses (CIDR) allowed to use XCLIENT (front proxies, tests). */
  xclientNetworks: string[];
  /** The other moat nodes (mx.trusted_relays): their X-Spam* verdict and Authentication-Results are kept. */
  trustedRelays: string[];
  dns: {
    /** The resolver every lookup goes to (`127.0.0.1:5353`, `[::1]:53`). Never the machine's. */
    servers: string[];
    timeoutMs: number;
  };
  /** authservId: the Authentication-Results id we write and whose forged copies we remove (default: hostname). */
  authResults: { enabled: boolean; timeoutMs: number; authservId: string };
  dmarc: DmarcView;
  spamd: SpamdView;
  /** The quarantine (the spool's hold/): held messages are deleted after retentionMs. */
  quarantine: { retentionMs: number; adminToken: string | undefined };
}

/** mx.dmarc: what a DMARC failure gets, per the domain's policy, and the forwarders whose ARC seal is trusted. */
export interface DmarcView {
  onReject: 'enforce' | 'quarantine' | 'tag';
  onQuarantine: 'quarantine' | 'tag';
  /** Lowercased sealing domains (the newest ARC-Seal's d=), subdomains included. */
  trustedArcSealers: string[];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The gateway's settings, frozen. */
export function mxView(config: Config): MxView {
  const { mx, spamd: sp, dns } = config;
  const hostname = mx.hostname ?? config.policy.hostname;
  return deepFreeze({
    hostname,
    banner: mx.banner,
    tls: {
      enabled: true,
      certFile: mx.tls.cert,
      keyFile: mx.tls.key,
      stateDir: mx.tls.state_dir,
      requestClientCert: mx.tls.request_client_cert,
      minVersion: mx.tls.min_version,
    },
    auth: {
      enabled: mx.auth.users_file !== undefined && mx.auth.users_file !== '',
      usersFile: mx.auth.users_file || undefined,
      maxFailures: mx.auth.max_failures,
      failureWindowMs: mx.auth.failure_window,
    },
    limits: {
      maxMessageSize: mx.size_limit,
      maxRecipients: mx.limits.recipients,
      maxCommands: mx.limits.commands,
      maxLineLength: mx.limits.line_length,
      idleTimeoutMs: mx.timeouts.command,
      dataIdleTimeoutMs: mx.timeouts.data,
      sessionMaxMs: mx.timeouts.session,
      decisionTimeoutMs: mx.timeouts.decision,
      greetPauseMs: mx.timeouts.greet_pause,
      perIpConcurrency: mx.limits.per_ip_concurrency,
      perIpRatePerMinute: mx.limits.per_ip_rate,
      maxClients: mx.limits.max_connections,
      maxErrors: mx.limits.errors,
    },
    xclientNetworks: [...mx.xclient.trusted_networks],
    trustedRelays: [...mx.trusted_relays],
    dns: { servers: [dns.resolver], timeoutMs: dns.timeout },
    authResults: { enabled: mx.auth_results.enabled, timeoutMs: mx.auth_results.timeout, authservId: mx.auth_results.authserv_id ?? hostname },
    quarantine: { retentionMs: config.quarantine.retention, adminToken: config.quarantine.admin_token },
    dmarc: {
      onReject: mx.dmarc.on_reject,
      onQuarantine: mx.dmarc.on_quarantine,
      trustedArcSealers: mx.dmarc.trusted_arc_sealers.map((d) => d.toLowerCase().replace(/\.$/, '')),
    },
    spamd: {
      enabled: sp.enabled,
      host: sp.host,
      port: sp.port,
      timeoutMs: sp.timeout,
      connectTimeoutMs: sp.connect_timeout,
      maxConnections: sp.max_concurrency,
      rejectScore: sp.reject_threshold,
      quarantineScore: sp.quarantine_threshold,
      onFailure: sp.on_failure,
      maxScanBytes: sp.max_size,
    },
  });
}
