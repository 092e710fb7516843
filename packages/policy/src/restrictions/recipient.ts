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
    return { outcome: 'reject', status: '5.5.2', text: `<${rcpt}>: Recipient address rejected: need fully-qualified address`, reason: 'recipient domain is not fully qualified' };
  },
});

/** Postfix check_rcpt_maps for a recipient: 550 5.1.1 for an unknown user of our domains. */
export function unlistedRecipient(ctx: Ctx): Result | Wait {
  return withClass(ctx, (cls): Result => {
    if (cls === 'unknown-user') {
      return { outcome: 'reject', status: '5.1.1', text: `<${ctx.facts.recipient}>: Recipient address rejected: User unknown in local recipient table`, reason: 'unknown user' };
    }
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
