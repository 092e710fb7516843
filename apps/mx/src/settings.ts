// The gateway's settings: the `mx` and `spamd` sections of moat.yaml with their defaults, frozen once.
// Trusts the config file (the admin's); reads it structurally so it works with @moat/config's parsed object.

export interface MxSettings {
  /** Banner and Received `by` name. */
  hostname: string;
  /** Appended to the 220 greeting. */
  banner: string;
  tls: {
    /** STARTTLS offered (default true). */
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
    /** Lines `user:scrypt$N$r$p$salt$hash` (base64 salt/hash). */
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
    /** New sessions per client address per minute (anvil: smtpd_client_connection_rate_limit); 0 = off. */
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
  spamd: SpamdSettings;
}

export interface SpamdSettings {
  enabled: boolean;
  host: string;
  port: number;
  timeoutMs: number;
  /** spamd.connect_timeout: the TCP connect alone. */
  connectTimeoutMs: number;
  maxConnections: number;
  /** Reject (550 5.7.1) at or above this score; undefined: spamd's own required_score. */
  rejectScore?: number | undefined;
  /** spamd down or slow: accept with `X-Spam-Status: unchecked`, or answer 451 4.7.1. */
  onFailure: 'accept' | 'tempfail';
  /** Larger messages are not scanned (spamc's -s); they are accepted with `X-Spam-Status: unchecked`. */
  maxScanBytes: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const str = (v: unknown, d: string): string => (typeof v === 'string' && v !== '' ? v : d);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const bool = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);
const strs = (v: unknown, d: string[]): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : d);

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Settings from the parsed config (@moat/config's object: `mx`, `spamd`, `dns`, `policy` sections,
 * snake_case keys, durations in ms), defaults filled in for anything absent.
 */
export function mxSettings(config: unknown, overrides: { hostname?: string } = {}): MxSettings {
  const root = obj(config);
  const mx = obj(root.mx);
  const tls = obj(mx.tls);
  const auth = obj(mx.auth);
  const limits = obj(mx.limits);
  const timeouts = obj(mx.timeouts);
  const dns = obj(root.dns);
  const ar = obj(mx.auth_results);
  const sp = obj(root.spamd);
  const policy = obj(root.policy);
  const hostname = overrides.hostname ?? str(mx.hostname, str(policy.hostname, 'localhost'));
  return deepFreeze({
    hostname,
    banner: str(mx.banner, 'ESMTP moat'),
    tls: {
      enabled: bool(tls.enabled, true),
      certFile: optStr(tls.cert),
      keyFile: optStr(tls.key),
      stateDir: str(tls.state_dir, '/var/lib/moat/mx'),
      requestClientCert: bool(tls.request_client_cert, true),
      minVersion: tls.min_version === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    },
    auth: {
      enabled: optStr(auth.users_file) !== undefined,
      usersFile: optStr(auth.users_file),
      maxFailures: num(auth.max_failures, 5),
      failureWindowMs: num(auth.failure_window, 10 * 60_000),
    },
    limits: {
      maxMessageSize: num(mx.size_limit, 81_920_000),
      maxRecipients: num(limits.recipients, 1000),
      maxCommands: num(limits.commands, 1000),
      maxLineLength: num(limits.line_length, 4096),
      idleTimeoutMs: num(timeouts.command, 300_000),
      dataIdleTimeoutMs: num(timeouts.data, 600_000),
      sessionMaxMs: num(timeouts.session, 30 * 60_000),
      decisionTimeoutMs: num(timeouts.decision, 10_000),
      greetPauseMs: num(timeouts.greet_pause, 0),
      perIpConcurrency: num(limits.per_ip_concurrency, 10),
      perIpRatePerMinute: num(limits.per_ip_rate, 60),
      maxClients: num(limits.max_connections, 500),
      maxErrors: num(limits.errors, 20),
    },
    xclientNetworks: strs(obj(mx.xclient).trusted_networks, []),
    trustedRelays: strs(mx.trusted_relays, []),
    dns: {
      servers: [str(dns.resolver, '127.0.0.1:53')],
      timeoutMs: num(dns.timeout, 1500),
    },
    authResults: { enabled: bool(ar.enabled, true), timeoutMs: num(ar.timeout, 10_000), authservId: str(ar.authserv_id, hostname) },
    spamd: {
      enabled: bool(sp.enabled, true),
      host: str(sp.host, '127.0.0.1'),
      port: num(sp.port, 783),
      timeoutMs: num(sp.timeout, 30_000),
      connectTimeoutMs: num(sp.connect_timeout, 2000),
      maxConnections: num(sp.max_concurrency, 8),
      rejectScore: typeof sp.reject_threshold === 'number' ? sp.reject_threshold : 10,
      onFailure: sp.on_failure === 'tempfail' ? 'tempfail' : 'accept',
      maxScanBytes: num(sp.max_size, 512_000),
    },
  } satisfies MxSettings);
}
