// The engine: relay control, then the spam policy, evaluated Postfix-style against the ports.
// Trusts the ports' answers and the compiled spec; every fact is client input and only classified.
import { hostileRecipientForm, isStrictEnvelope } from '../address.ts';
import { parseIpShared } from '../ip.ts';
import type { Facts, PolicySpec, Ports, Verdict } from '../types.ts';
import { buildEnv, compileList } from './compile.ts';
import { type Ctx, MAIL, RCPT, STAGE_RANK } from './context.ts';
import { EARLY_PHASE, fixed, RELAY_PHASE, Runner, SENDER_PHASE, verdictOf } from './run.ts';

export interface Engine {
  evaluate(facts: Facts): Promise<Verdict>;
  /** The spec the engine was built from (frozen). */
  readonly spec: PolicySpec;
}

/** Builds the engine. Throws PolicyError when the spec is malformed (bad network, bad filter). */
export function createEngine(spec: PolicySpec, ports: Ports): Engine {
  const env = buildEnv(spec, ports);
  const relay = compileList(spec.relayRestrictions, 'relay restrictions', 'relay', env);
  const recipient = compileList(spec.recipientRestrictions, 'recipient restrictions', 'recipient', env);
  const runner = new Runner(relay, recipient);

  const decide = (facts: Facts): Verdict | Promise<Verdict> => {
    const client = parseIpShared(facts.clientAddress);
    const ctx: Ctx = {
      env,
      facts,
      stage: STAGE_RANK[facts.stage] ?? RCPT,
      client: client.ip,
      clientText: client.text,
      trace: [],
      prepend: [],
      keys: [null, null, null, null, null],
      last: env.clock.now(),
      rcptClass: undefined,
      dnsPlan: undefined,
      dnsAnswerOf: undefined,
      dnsAnswers: undefined,
      inRelayList: false,
      inMyNets: 0,
      lastName: undefined,
      lastNameKey: undefined,
      warnNext: 0,
      deferIfPermit: undefined,
      deferIfReject: undefined,
    };

    // strict_rfc821_envelopes is command syntax: Postfix refuses it at once, whatever delay_reject says.
    if (spec.strictRfc821Envelopes) {
      if (ctx.stage >= MAIL && ctx.stage <= RCPT && facts.rawSender !== undefined && !isStrictEnvelope(facts.rawSender, true)) {
        return syntaxError(fixed(ctx, 'strict_rfc821_envelopes', 'reject_non_fqdn_sender', 'reject', '5.1.7', 'Bad sender address syntax', 'MAIL FROM is not <local@domain.tld> or <>'));
      }
      if (ctx.stage === RCPT && facts.rawRecipient !== undefined && !isStrictEnvelope(facts.rawRecipient, false)) {
        return syntaxError(fixed(ctx, 'strict_rfc821_envelopes', 'reject_non_fqdn_recipient', 'reject', '5.1.3', 'Bad recipient address syntax', 'RCPT TO is not <local@domain.tld>'));
      }
    }

    if (ctx.stage < RCPT) {
      if (spec.delayReject) return verdictOf(ctx, undefined);
      return runner.start(ctx, EARLY_PHASE);
    }
    if (ctx.stage > RCPT || facts.recipient === undefined) return verdictOf(ctx, undefined);

    // Relay safety first: forms that route elsewhere are refused before any list can permit them.
    const rcpt = facts.recipient;
    // RFC 5321 4.5.1: a bare `postmaster` must be accepted. Postfix's smtpd_check_rcpt returns before any
    // restriction for it (checked: a client its access map rejects still gets 250 for RCPT TO:<postmaster>).
    if (rcpt.length === 10 && rcpt.toLowerCase() === 'postmaster' && !env.callerDoesRelay) {
      ctx.trace.push({ restriction: 'postmaster', list: 'relay', outcome: 'permit', reason: 'RFC 5321 4.5.1: postmaster without a domain is always accepted', ms: 0 });
      return verdictOf(ctx, undefined);
    }
    const hostile = env.callerDoesRelay ? undefined : hostileRecipientForm(rcpt);
    if (hostile !== undefined) {
      if (hostile === 'bad-syntax') {
        return syntaxError(fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.1.3', `<${rcpt}>: Bad recipient address syntax`, 'malformed recipient'));
      }
      return fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${rcpt}>: Relay access denied`, `hostile recipient form: ${hostile}`);
    }

    // smtpd_reject_unlisted_sender: Postfix checks it at the end of the MAIL checks, so before the RCPT lists
    return runner.start(ctx, env.rejectUnlistedSender && facts.sender ? SENDER_PHASE : RELAY_PHASE);
  };

  const evaluate = (facts: Facts): Promise<Verdict> => {
    try {
      const v = decide(facts);
      return v instanceof Promise ? v : Promise.resolve(v);
    } catch (e) {
      return Promise.reject(e);
    }
  };

  return { evaluate, spec };
}

/** A command's syntax refused (Postfix: 501), whatever the restriction's own reject code. */
function syntaxError(v: Verdict): Verdict {
  v.smtpCode = 501;
  return v;
}
