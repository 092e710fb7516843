// One delivery attempt's shared state (options, stage, answers so far) and its per-recipient results from replies.
// Reply codes decide a recipient's status; reply text is untrusted and only carried along, bounded.
import type { TlsOutcomeFailure, TlsRequirement } from '../tls-requirement.ts';
import { type RecipientResult, statusFor } from '../types.ts';
import { type Conversation, enhancedOf, type Reply } from './conversation.ts';

export interface SmtpSendOptions {
  host: string;
  port: number;
  /** A unix-domain socket instead of host:port (LMTP to a local mailbox server: `lmtp:unix:/path`). */
  path?: string | undefined;
  /** Speak LMTP (LHLO, one reply per recipient after DATA). */
  lmtp?: boolean;
  /** Our name in EHLO/LHLO. */
  heloName: string;
  /** `opportunistic` (default): STARTTLS when offered, unverified, plain text if the handshake fails. */
  starttls?: 'never' | 'opportunistic';
  /** SNI / name for TLS. */
  servername?: string;
  /** Per reply, ms (default 60 s; Postfix uses minutes). */
  timeoutMs?: number;
  sender: string;
  recipients: string[];
  message: Buffer;
  /** Reuse a cached session to this next hop and cache this one afterwards. */
  reuse?: boolean;
  /** Outbound TLS policy for this host (MTA-STS, DANE): see tls-requirement.ts. Absent: opportunistic. */
  tls?: TlsRequirement | undefined;
}

export interface SmtpSendResult {
  results: RecipientResult[];
  tls: boolean;
  /** What went wrong with TLS on this session (counted for TLS-RPT), also when the policy only reports. */
  tlsFailure?: TlsOutcomeFailure;
}

/** An attempt's outcome; `tlsFailed`: the opportunistic handshake failed, try again in plain text. */
export type AttemptResult = SmtpSendResult & { tlsFailed?: boolean };

/** What one attempt's steps share: the conversation and what it has come to. */
export interface Exchange {
  readonly opts: SmtpSendOptions;
  readonly conv: Conversation;
  /** The next hop as logged (`host[host]:port`, `unix:/path`). */
  readonly relay: string;
  /** Where the conversation is, named in the error when the connection is lost. */
  stage: string;
  /** Recipients with a final answer so far. */
  results: RecipientResult[];
  /** Put the session into the cache afterwards. */
  keep: boolean;
}

/** Every recipient with the same status and response (a failure before or instead of per-recipient replies). */
export function allRecipients(opts: SmtpSendOptions, relay: string, status: 'deferred' | 'bounced', response: string, code?: number): RecipientResult[] {
  return opts.recipients.map((recipient) => ({
    recipient,
    status,
    response,
    relay,
    ...(code ? { code } : {}),
    ...(enhancedOf(response.slice(4)) ? { enhanced: enhancedOf(response.slice(4)) } : {}),
  }));
}

/** Every recipient answered by one reply before RCPT (a 2xx where a refusal was due defers). */
export function fromReply(x: Pick<Exchange, 'opts' | 'relay'>, r: Reply): RecipientResult[] {
  const st = statusFor(r.code);
  return allRecipients(x.opts, x.relay, st === 'sent' ? 'deferred' : st, r.text, r.code);
}
