// The listeners' own sender-login check (mx.sender_login): Postfix's reject_*_sender_login_mismatch, one
// restriction run at MAIL FROM by a small engine of its own. Trusts the config and the engine's ports (its maps).
import type { Config } from '@moat/config';
import { createEngine, type Engine, makeRestriction, type PolicySpec, type Ports } from '@moat/policy';

export type Listener = 'smtp' | 'submission';

export interface SenderLoginCheck {
  /** The restriction this listener runs (a Postfix name): in logs and metric labels. */
  readonly restriction: string;
  /** Decides at the MAIL stage (facts.stage 'mail', with the sender and the session's login). */
  readonly engine: Engine;
}

/**
 * The check a listener runs, or undefined when mx.sender_login turns it off. It reads the same
 * smtpd_sender_login_maps as the policy lists (through the engine's access-map port, so a reloaded table
 * is seen by both) and nothing else: no relay control, no implicit recipient or sender checks.
 */
export function senderLoginCheck(config: Config, listener: Listener, base: { spec: PolicySpec; ports: Ports }): SenderLoginCheck | undefined {
  const settings = config.mx.sender_login;
  const restriction = settings[listener];
  if (restriction === 'off') return undefined;
  const spec: PolicySpec = {
    ...base.spec,
    relayControl: 'caller',
    relayRestrictions: [],
    recipientRestrictions: [makeRestriction(restriction, undefined)],
    // answered at MAIL FROM, whatever smtpd_delay_reject says for the policy lists
    delayReject: false,
    strictRfc821Envelopes: false,
    rejectUnlistedRecipient: false,
    rejectUnlistedSender: false,
    loginOwnsItself: settings.login_owns_itself,
  };
  return { restriction, engine: createEngine(spec, base.ports) };
}
