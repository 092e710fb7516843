// Outbound TLS policy per recipient domain and MX host: DANE (RFC 7672) first, then MTA-STS (RFC 8461), else opportunistic.
// Trusts the validating resolver's AD bit and the WebPKI for MTA-STS; the peer's certificate is checked, never trusted.
import { checkServerIdentity, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Logger } from '@moat/observe';
import { formatStsPolicy, mxMatches, type StsPolicy } from './mta-sts.ts';
import type { OutcomeRecorder, TlsPolicyType, TlsResultType } from './outcomes.ts';
import { systemCas } from './pki.ts';
import { DnsLookupError, type SecureResolver } from './secure-resolver.ts';
import { stsSource, StsUnavailableError } from './sts-source.ts';
import type { StsStore } from './sts-store.ts';
import { checkChain, formatTlsa, type TlsaRecord, usable } from './tlsa.ts';

export interface TlsFailure {
  type: TlsResultType;
  detail: string;
}

/** What the SMTP client does on one connection (structurally the queue's TlsRequirement). */
export interface HostTls {
  /** Never send in clear: no STARTTLS, a failed handshake or a failed check defers. */
  required: boolean;
  options: ConnectionOptions;
  check(sock: TLSSocket): TlsFailure | undefined;
  /** Sessions are cached per requirement. */
  id: string;
  policyType: TlsPolicyType;
  policyString: string[];
  mxPatterns?: string[] | undefined;
}

/** This MX host cannot be used now (lookup timeout, bogus DNSSEC, not in an enforced MTA-STS policy). */
export class HostRefused extends Error {
  readonly code = 'tls-policy-refused';
  readonly result: TlsResultType | undefined;
  constructor(message: string, result?: TlsResultType) {
    super(message);
    this.result = result;
  }
}

/** The domain's policy cannot be learnt now (timeout, SERVFAIL): deliver later, never without it. */
export class PolicyUnavailable extends Error {
  readonly code = 'tls-policy-unavailable';
}

export interface DomainTls {
  readonly domain: string;
  /** The requirement for one MX host; undefined = opportunistic TLS as before. Throws HostRefused. */
  forHost(host: string, port: number): Promise<HostTls | undefined>;
  /** Count one session's TLS outcome (TLS-RPT). */
  report(host: string, addr: string, req: HostTls | undefined, res: { tls: boolean; tlsFailure?: TlsFailure | undefined }): void;
}

export interface OutboundTls {
  /** Throws PolicyUnavailable when a lookup timed out or failed. */
  forDomain(domain: string): Promise<DomainTls>;
}

/** Postfix's smtp_tls_security_level values moat implements (queue.tls.security_level, docs/tls.md). */
export type TlsLevel = 'may' | 'dane' | 'encrypt' | 'dane-only' | 'verify' | 'secure';

/**
 * The level for a destination domain: `policies` (smtp_tls_policy_maps) by the domain itself, then by `.parent`
 * entries from the nearest parent up, else `level`.
 */
export function levelFor(domain: string, level: TlsLevel, policies: Readonly<Record<string, TlsLevel>> = {}): TlsLevel {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const exact = policies[d];
  if (exact) return exact;
  for (let i = d.indexOf('.'); i >= 0; i = d.indexOf('.', i + 1)) {
    const p = policies[d.slice(i)];
    if (p) return p;
  }
  return level;
}

export interface OutboundTlsOptions {
  resolver: SecureResolver;
  /** The default security level (queue.tls.security_level); `may` and `dane` behave alike (DANE when published). */
  level?: TlsLevel;
  /** Per destination domain levels (queue.tls.policies). */
  policies?: Readonly<Record<string, TlsLevel>>;
  dane?: boolean;
  mtaSts?: boolean;
  /** CAs for MTA-STS (policy host and MX certificates); default: the system's. */
  ca?: string[];
  /** Port of the MTA-STS policy host (443; tests use a loopback port). */
  stsPort?: number;
  stsTimeoutMs?: number;
  /** MTA-STS policies kept across restarts (fileStsStore in the spool); default: memory only. */
  stsStore?: StsStore | undefined;
  outcomes?: OutcomeRecorder;
  logger?: Logger | undefined;
  now?: () => number;
}

export function pkixCheck(host: string): (sock: TLSSocket) => TlsFailure | undefined {
  return (sock) => {
    if (!sock.authorized) {
      const why = String(sock.authorizationError ?? 'not trusted');
      return { type: /EXPIRED|NOT_YET_VALID/.test(why) ? 'certificate-expired' : 'certificate-not-trusted', detail: `certificate of ${host}: ${why}` };
    }
    const err = checkServerIdentity(host, sock.getPeerCertificate());
    return err ? { type: 'certificate-host-mismatch', detail: err.message } : undefined;
  };
}

/** secure: a CA-trusted certificate naming the next-hop domain or a subdomain (Postfix's nexthop:dot-nexthop). */
export function secureCheck(host: string, domain: string): (sock: TLSSocket) => TlsFailure | undefined {
  return (sock) => {
    if (!sock.authorized) {
      const why = String(sock.authorizationError ?? 'not trusted');
      return { type: /EXPIRED|NOT_YET_VALID/.test(why) ? 'certificate-expired' : 'certificate-not-trusted', detail: `certificate of ${host}: ${why}` };
    }
    const cert = sock.getPeerCertificate();
    const names = (cert.subjectaltname ?? '')
      .split(/,\s*/)
      .filter((n) => n.startsWith('DNS:'))
      .map((n) => n.slice(4).toLowerCase());
    const d = domain.toLowerCase();
    const ok = names.some((n) => n === d || n.endsWith(`.${d}`));
    return ok ? undefined : { type: 'certificate-host-mismatch', detail: `certificate of ${host} names ${names.join(', ') || 'nothing'}, not ${d} or a subdomain (secure)` };
  };
}

function chainOf(sock: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let c = sock.getPeerCertificate(true) as ReturnType<TLSSocket['getPeerCertificate']> & { issuerCertificate?: unknown };
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c.raw);
    c = c.issuerCertificate as typeof c;
  }
  return out;
}

/** What a mandatory level asks of a host with no DANE and no enforced MTA-STS policy; undefined for may/dane. */
function levelRequirement(level: TlsLevel, host: string, domain: string, ca: string[]): HostTls | undefined {
  const base = { required: true, id: `level:${level}`, policyType: 'no-policy-found' as const, policyString: [] };
  if (level === 'encrypt') return { ...base, options: { rejectUnauthorized: false, servername: host }, check: () => undefined };
  if (level === 'verify') return { ...base, options: { rejectUnauthorized: false, servername: host, ca }, check: pkixCheck(host) };
  // secure names the domain, not the MX host: the chain is checked by the handshake, the names by secureCheck
  if (level === 'secure') return { ...base, id: `level:secure:${domain}`, options: { rejectUnauthorized: false, servername: host, ca, checkServerIdentity: () => undefined }, check: secureCheck(host, domain) };
  return undefined;
}

export function outboundTls(o: OutboundTlsOptions): OutboundTls {
  const dane = o.dane ?? true;
  const mtaSts = o.mtaSts ?? true;
  const ca = o.ca ?? systemCas();
  const record = (x: Parameters<OutcomeRecorder['record']>[0]) => o.outcomes?.record(x);
  const sts = stsSource({
    resolver: o.resolver,
    ca,
    ...(o.stsPort ? { port: o.stsPort } : {}),
    ...(o.stsTimeoutMs ? { timeoutMs: o.stsTimeoutMs } : {}),
    store: o.stsStore,
    logger: o.logger,
    ...(o.now ? { now: o.now } : {}),
    onInvalid: (domain, kind, detail) => record({ policyDomain: domain, policyType: 'sts', result: kind, detail }),
  });

  return {
    async forDomain(domain) {
      const level = levelFor(domain, o.level ?? 'dane', o.policies);
      const daneHere = dane || level === 'dane-only';
      let mxSecure = false;
      if (daneHere) {
        try {
          mxSecure = (await o.resolver.mx(domain)).secure;
        } catch (e) {
          const kind = e instanceof DnsLookupError ? e.kind : 'failed';
          if (kind === 'servfail') record({ policyDomain: domain, policyType: 'tlsa', result: 'dnssec-invalid', detail: (e as Error).message });
          throw new PolicyUnavailable(`MX lookup (DNSSEC) for ${domain} failed (${kind}): ${(e as Error).message}`);
        }
      }
      let policy: { id: string; policy: StsPolicy } | undefined;
      if (mtaSts) {
        try {
          policy = await sts.policyFor(domain);
        } catch (e) {
          if (e instanceof StsUnavailableError) throw new PolicyUnavailable(e.message);
          throw e;
        }
      }
      const p = policy?.policy.mode === 'none' ? undefined : policy?.policy;
      /** RFC 7672 2.2.2: insecure address records (an unsigned zone, a CNAME into one) mean no DANE for the host. */
      const addressesSecure = async (host: string): Promise<boolean> => {
        try {
          const a = await o.resolver.hostAddresses(host);
          if (!a.secure) o.logger?.info({ domain, mx: host, decided_by: 'dane' }, 'MX host address records not DNSSEC-validated: DANE does not apply to this host');
          return a.secure;
        } catch (e) {
          // bogus (SERVFAIL) or timed-out address records under a secure MX RRset: this host cannot be used now
          const kind = e instanceof DnsLookupError ? e.kind : 'failed';
          const result: TlsResultType = kind === 'servfail' ? 'dnssec-invalid' : 'tlsa-invalid';
          record({ policyDomain: domain, policyType: 'tlsa', mxHost: host, result, detail: (e as Error).message });
          throw new HostRefused(`address lookup (DNSSEC) for ${host} failed (${kind}); not delivering without it`, result);
        }
      };
      const stsStrings = p ? formatStsPolicy(p).split('\r\n').filter(Boolean) : [];
      return {
        domain,
        async forHost(host, port) {
          // RFC 7672 2.2: DANE applies to MX hosts only when the MX RRset itself was validated, and (2.2.2) the
          // TLSA records of a host are looked up only when its address records are secure too
          if (daneHere && mxSecure && (await addressesSecure(host))) {
            const name = `_${port}._tcp.${host.replace(/\.$/, '')}`;
            let tlsa: { secure: boolean; records: TlsaRecord[] };
            try {
              tlsa = await o.resolver.tlsa(name);
            } catch (e) {
              const kind = e instanceof DnsLookupError ? e.kind : 'failed';
              const result: TlsResultType = kind === 'servfail' ? 'dnssec-invalid' : 'tlsa-invalid';
              record({ policyDomain: domain, policyType: 'tlsa', mxHost: host, result, detail: (e as Error).message });
              throw new HostRefused(`TLSA lookup for ${name} failed (${kind}); not delivering without it`, result);
            }
            if (tlsa.secure && tlsa.records.length > 0) {
              const use = tlsa.records.filter(usable);
              // Postfix (smtp_tls_policy.c dane_incompat): unusable records make dane encrypt, dane-only defer
              if (use.length === 0 && level === 'dane-only') {
                record({ policyDomain: domain, policyType: 'tlsa', mxHost: host, result: 'tlsa-invalid', detail: `no usable TLSA record at ${name}` });
                throw new HostRefused(`TLSA records at ${name} are all unusable and ${domain}'s TLS level is dane-only`, 'tlsa-invalid');
              }
              return {
                required: true,
                // DANE authenticates by the records, not by a CA: the handshake accepts any chain, the check decides
                options: { rejectUnauthorized: false, servername: host },
                check: (sock) => {
                  if (use.length === 0) return undefined; // RFC 7672 2.2: no usable record = mandatory unauthenticated TLS
                  const why = checkChain(use, chainOf(sock), [host, domain]);
                  return why ? { type: 'validation-failure', detail: `${host}: ${why}` } : undefined;
                },
                id: `dane:${tlsa.records.map(formatTlsa).join(',')}`,
                policyType: 'tlsa',
                policyString: tlsa.records.map(formatTlsa),
              };
            }
          }
          if (level === 'dane-only') {
            record({ policyDomain: domain, policyType: 'tlsa', mxHost: host, result: 'dane-required', detail: `no DNSSEC-validated TLSA records for ${host}` });
            throw new HostRefused(`${host} has no DNSSEC-validated TLSA records and ${domain}'s TLS level is dane-only`, 'dane-required');
          }
          const floor = levelRequirement(level, host, domain, ca);
          if (!p || (p.mode !== 'enforce' && floor)) return floor;
          if (!mxMatches(p, host)) {
            if (p.mode === 'enforce') {
              record({ policyDomain: domain, policyType: 'sts', policyString: stsStrings, mxPatterns: p.mx, mxHost: host, result: 'validation-failure', detail: `MX host ${host} not in the MTA-STS policy` });
              throw new HostRefused(`MX host ${host} is not in ${domain}'s enforced MTA-STS policy`, 'validation-failure');
            }
          }
          const check = pkixCheck(host);
          return {
            required: p.mode === 'enforce',
            options: { rejectUnauthorized: false, servername: host, ca },
            // an enforced policy adds its check to the configured level's, never replaces a stricter one
            // (`secure` wants the certificate to name the domain; MTA-STS only an MX host of its policy)
            check: (sock) =>
              (mxMatches(p, host) ? check(sock) : ({ type: 'validation-failure', detail: `MX host ${host} not in the MTA-STS policy` } as TlsFailure)) ??
              floor?.check?.(sock),
            id: `sts:${p.mode}:${policy?.id}`,
            policyType: 'sts',
            policyString: stsStrings,
            mxPatterns: p.mx,
          };
        },
        report(host, addr, req, res) {
          if (!res.tls && !res.tlsFailure) return; // no session got as far as TLS (connect failed): nothing to count
          record({
            policyDomain: domain,
            policyType: req?.policyType ?? 'no-policy-found',
            ...(req?.policyString.length ? { policyString: req.policyString } : {}),
            ...(req?.mxPatterns ? { mxPatterns: req.mxPatterns } : {}),
            mxHost: host,
            receivingIp: addr,
            result: res.tlsFailure?.type ?? 'success',
            ...(res.tlsFailure ? { detail: res.tlsFailure.detail } : {}),
          });
        },
      };
    },
  };
}
