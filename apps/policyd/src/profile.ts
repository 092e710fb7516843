// The policyd profile: the compiled spec minus the checks Postfix already does in its own restriction lists.
// Trusts the config; the result is what the engine runs behind check_policy_service.
import type { PolicySpec, Restriction, RestrictionType } from '@moat/policy';

export interface PostfixDoes {
  /** smtpd_helo_required = yes: Postfix refuses MAIL without HELO; drop reject_missing_helo. */
  helo: boolean;
  /** strict_rfc821_envelopes = yes: Postfix checks the raw MAIL FROM/RCPT TO (policyd never sees them). */
  sender: boolean;
  /** smtpd_reject_unlisted_recipient = yes (Postfix's default): drop reject_unlisted_recipient. */
  recipients: boolean;
  /** smtpd_relay_restrictions / reject_unauth_destination: drop the engine's relay-control list. */
  relay: boolean;
}

export function policydSpec(spec: PolicySpec, skip: PostfixDoes): PolicySpec {
  const drop = new Set<RestrictionType>();
  if (skip.helo) drop.add('reject_missing_helo');
  if (skip.recipients) drop.add('reject_unlisted_recipient');
  const keep = (list: readonly Restriction[]) => list.filter((r) => !drop.has(r.type));
  return Object.freeze({
    ...spec,
    strictRfc821Envelopes: skip.sender ? false : spec.strictRfc821Envelopes,
    // smtpd_reject_unlisted_recipient/_sender are Postfix's own implicit checks, after its lists
    // (check_policy_service included): the Postfix in front applies them with its own tables.
    rejectUnlistedRecipient: false,
    rejectUnlistedSender: false,
    relayRestrictions: skip.relay ? [] : keep(spec.relayRestrictions),
    recipientRestrictions: keep(spec.recipientRestrictions),
  });
}
