// Recipient restrictions: the envelope recipient's form and whether the user exists.
// Trusts the recipient port's classification; the address itself is client input.
import { isFqdnDomain, parseAddressLiteral, splitAddress } from '../address.ts';
import { type Ctx, DUNNO, RCPT, type Result, type Wait } from '../engine/context.ts';
import { withClass } from '../engine/lookups.ts';
import { define } from './define.ts';

export const rejectNonFqdnRecipient = define({
  name: 'reject_non_fqdn_recipient',
  arg: 'none',
  stage: RCPT,
  rejectCode: 504, // non_fqdn_reject_code
  evaluate: (_c, ctx): Result => {
    const rcpt = ctx.facts.recipient!;
    const { domain } = splitAddress(rcpt);
    if (domain.startsWith('[') ? parseAddressLiteral(domain) !== undefined : isFqdnDomain(domain)) return DUNNO;
    return { outcome: 'reject', status: '5.5.2', subject: { name: rcpt, context: 'Recipient address rejected' }, text: 'need fully-qualified address', reason: 'recipient domain is not fully qualified' };
  },
});

/**
 * Postfix check_rcpt_maps' refusal of an unknown user: `<rcpt>: Recipient address rejected: TEXT`, TEXT and
 * status as the recipient port words them (the class's table, or an error: transport's text), 550.
 */
export function unlistedRecipientReply(ctx: Ctx): Result {
  const rcpt = ctx.facts.recipient!;
  let refusal: { status: string; text: string } = { status: '5.1.1', text: 'User unknown in local recipient table' };
  try {
    const v = ctx.env.ports.recipients.verifySync?.(rcpt);
    if (v && !v.accepted) refusal = v;
  } catch {
    // classify answered 'unknown-user' a moment ago; the generic words will do
  }
  return { outcome: 'reject', status: refusal.status, subject: { name: rcpt, context: 'Recipient address rejected' }, text: `${refusal.text}`, reason: 'unknown user', smtpCode: 550 };
}

/** Postfix check_rcpt_maps for a recipient: 550 5.1.1 for an unknown user of our domains. */
export function unlistedRecipient(ctx: Ctx): Result | Wait {
  return withClass(ctx, (cls): Result => {
    if (cls === 'unknown-user') return unlistedRecipientReply(ctx);
    return { outcome: 'dunno', reason: cls };
  });
}

export const rejectUnlistedRecipient = define({
  name: 'reject_unlisted_recipient',
  aliases: ['reject_unknown_recipient'],
  arg: 'none',
  stage: RCPT,
  rejectCode: 550, // unknown_local_recipient_reject_code
  evaluate: (_c, ctx) => unlistedRecipient(ctx),
});
