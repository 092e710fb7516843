// What a gateway is built from (MxDeps) and what it offers (Mx): the contract between generation.ts and the
// session code. Types only; every dependency is trusted as built by the caller from the validated config.
import type { AddressInfo, Socket } from 'node:net';
import type { AddressResolver } from '@moat/address';
import type { Authenticator } from '@moat/auth';
import type { MxView as MxSettings } from '@moat/config';
import type { Logger, Registry } from '@moat/observe';
import type { Facts, RecipientPort, Verdict } from '@moat/policy';
import type { QueueWriter } from '@moat/queue';
import type { RateLimiter } from '@moat/ratelimit';
import type { DecisionSink, SenderLoginCheck } from '@moat/runtime';
import type { SpamdClient } from '@moat/spamd';
import type { SMTPServer } from 'smtp-server';
import type { MxResolver } from './dns.ts';
import type { Anvil } from './limits.ts';
import type { MxMetrics } from './metrics.ts';
import type { TlsServerOptions } from './tls.ts';

export interface PolicyEngine {
  evaluate(facts: Facts): Promise<Verdict>;
}

export interface MxDeps {
  settings: MxSettings;
  engine: PolicyEngine;
  /** The spec's delayReject: HELO/MAIL rejects are answered at RCPT. */
  delayReject: boolean;
  /** Classifies recipients so authenticated users' mail to remote domains is queued for relay (without `addressResolver`). */
  recipients?: RecipientPort | undefined;
  /**
   * Resolves each accepted recipient at RCPT (class, aliases, next hop): an address that cannot be
   * resolved is refused with the resolution's status, and each final recipient is queued for its next hop.
   */
  addressResolver?: Pick<AddressResolver, 'resolve' | 'classify'> | undefined;
  queue: QueueWriter;
  spamd?: SpamdClient | undefined;
  resolver: MxResolver;
  /** STARTTLS offered when given. */
  tls?: TlsServerOptions | undefined;
  /** AUTH offered (after STARTTLS) when given. */
  authenticator?: Authenticator | undefined;
  logger: Logger;
  registry: Registry;
  /** Budget of the MAIL/RCPT hooks (DNS lists, greylist). Default: settings.limits.decisionTimeoutMs. */
  commandTimeoutMs?: number | undefined;
  /**
   * Submission (port 587, RFC 6409): AUTH (after STARTTLS) is required before MAIL, and the spam policy
   * is not run for logged-in users (their laptops' HELO names would fail the HELO checks). Content
   * scanning and the headers stay.
   */
  submission?: boolean | undefined;
  /**
   * This listener's sender-login check (mx.sender_login), run at MAIL FROM before the policy lists and
   * answered at once. Undefined: none (a logged-in client's mail is then never DKIM-signed).
   */
  senderLogin?: SenderLoginCheck | undefined;
  /**
   * Clients whose mail is ours to DKIM-sign (policy.mynetworks, as the seed's OpenDKIM InternalHosts): with a
   * logged-in client whose sender passed the login check, the only mail marked for signing (queue meta `dkim`).
   */
  myNetworks?: readonly string[] | undefined;
  /** The shared decision journal: every decision, and the queue ids a session's message got. */
  journal?: (DecisionSink & { linkQueueId(sessionId: string, queueId: string): void }) | undefined;
  /** Per-address session counts kept across config generations (MxShared); a new one when absent. */
  anvil?: Anvil | undefined;
  /** Rate limits shared by every MX (MAIL, RCPT, AUTH; fail open). */
  rateLimits?: RateLimiter | undefined;
  /**
   * Budget of end-of-DATA (scan, auth results, queue), counted from the end of the message. Default 120 s:
   * spamd's 30 s and the auth results' 10 s with room for the queue's fsyncs. The transfer itself is bounded
   * by mx.timeouts.data (idle) and mx.timeouts.session.
   */
  dataTimeoutMs?: number | undefined;
}

export interface Mx {
  readonly server: SMTPServer;
  readonly metrics: MxMetrics;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Serve a client connection accepted elsewhere (a listener shared by config generations). */
  accept(socket: Socket): void;
  close(): Promise<void>;
}
