// The hook through which an outbound TLS policy (MTA-STS, DANE: @moat/tlspolicy) steers one SMTP session.
// The client trusts the policy object it is given; the peer's certificate is judged by the policy's check.
import type { ConnectionOptions, TLSSocket } from 'node:tls';

/** An RFC 8460 result type and what happened (for TLS-RPT and the deferral text). */
export interface TlsOutcomeFailure {
  type: string;
  detail: string;
}

export interface TlsRequirement {
  /** Never send in clear: a missing STARTTLS, a failed handshake or a failed check defers (451 4.7.5). */
  required: boolean;
  /** Extra handshake options (the CAs and name for MTA-STS). */
  options?: ConnectionOptions;
  /** Judge the peer after the handshake; a failure defers when required, else it is only reported. */
  check?(sock: TLSSocket): TlsOutcomeFailure | undefined;
  /** Sessions are cached per requirement: a session made under one policy never serves another. */
  id: string;
}

/** The recipient domain's policy, per MX host (implemented by @moat/tlspolicy's outboundTls). */
export interface DomainTlsPolicy {
  /** The requirement for one MX host; undefined: opportunistic. Throws when this host must not be used now. */
  forHost(host: string, port: number): Promise<TlsRequirement | undefined>;
  report(host: string, addr: string, req: TlsRequirement | undefined, res: { tls: boolean; tlsFailure?: TlsOutcomeFailure | undefined }): void;
}

export interface OutboundTlsPolicy {
  /** Throws when the policy cannot be learnt now (timeout, DNSSEC failure): the mail waits, never goes without it. */
  forDomain(domain: string): Promise<DomainTlsPolicy>;
}

/**
 * The TLS of a next hop without MX lookup (relayhost, `smtp:[host]:port`, LMTP), as Postfix's smtp_tls_security_level,
 * smtp_tls_policy_maps and lmtp_tls_* give it (implemented by @moat/tlspolicy's nextHopTls).
 */
export type NextHopTlsPolicy = (hop: { kind: 'smtp' | 'lmtp'; host: string; port: number; path?: string | undefined; raw?: string | undefined; dest?: string | undefined }) => {
  starttls: 'never' | 'opportunistic';
  /** A mandatory level: never in clear, the check judges the certificate. */
  tls?: TlsRequirement | undefined;
  /** The hop cannot be used at its level: every delivery defers (451 4.7.5) with this text. */
  refuse?: string | undefined;
};
