// The policyd profile: which stages it acts on, how verdicts become Postfix actions, and its limits.
// Defaults are the safe ones for a server placed after reject_unauth_destination in smtpd_recipient_restrictions.
import type { Stage } from '@moat/policy';

export interface PolicydSettings {
  /** Stages the engine is asked at; every other protocol_state gets DUNNO. */
  stages: readonly Stage[];
  /**
   * What an engine permit becomes. `DUNNO` (default): Postfix goes on with its own later
   * restrictions and ends in its implicit permit, so a moat permit can never authorise relaying
   * even when check_policy_service is placed before reject_unauth_destination. `OK`: ends
   * Postfix's restriction list (only for admins who put moat last and want its permit final).
   */
  permitAction: 'DUNNO' | 'OK';
  /** `code`: `554 5.7.1 text` (the engine's reply code); `reject`: `REJECT 5.7.1 text` ($access_map_reject_code). */
  rejectStyle: 'code' | 'reject';
  /** Checks Postfix already does itself, dropped from the engine's lists in this profile. */
  postfixDoes: {
    /** smtpd_helo_required = yes: drop reject_missing_helo. */
    heloRequired: boolean;
    /** strict_rfc821_envelopes = yes: policyd never sees the raw MAIL FROM anyway. */
    strictEnvelopes: boolean;
    /** smtpd_relay_restrictions / reject_unauth_destination: drop the engine's relay list. */
    relayControl: boolean;
    /** smtpd_reject_unlisted_recipient = yes: drop reject_unlisted_recipient. */
    unlistedRecipient: boolean;
  };
  /** Connections served at once; beyond it a connection gets one answer (overloadAction) and is closed. */
  maxConnections: number;
  /** Action for requests on connections over maxConnections (fail open like the seed). */
  overloadAction: string;
  /** Close a connection idle this long between requests (Postfix's max_idle is 300 s; it reconnects). */
  idleTimeoutMs: number;
  /** Close a connection whose request stays unfinished this long (no blank line). */
  requestTimeoutMs: number;
  /** Decisions taking longer than this answer `timeoutAction` (Postfix waits 100 s by default). */
  decisionTimeoutMs: number;
  /** Answer when the engine fails or times out. Empty: log and disconnect, so Postfix's default_action applies. */
  errorAction: string;
  maxLine: number;
  maxRequest: number;
}

export const defaultSettings: PolicydSettings = Object.freeze({
  stages: Object.freeze(['rcpt'] as Stage[]),
  permitAction: 'DUNNO',
  rejectStyle: 'code',
  postfixDoes: Object.freeze({ heloRequired: true, strictEnvelopes: true, relayControl: true, unlistedRecipient: false }),
  maxConnections: 200,
  overloadAction: 'DUNNO',
  idleTimeoutMs: 330_000,
  requestTimeoutMs: 10_000,
  decisionTimeoutMs: 10_000,
  errorAction: '',
  maxLine: 4096,
  maxRequest: 65_536,
}) as PolicydSettings;
