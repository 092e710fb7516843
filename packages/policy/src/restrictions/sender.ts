// Sender restrictions: the envelope sender's form.
// Trusts nothing in the sender address; it is what the client wrote at MAIL FROM.
import { isFqdnDomain, parseAddressLiteral, splitAddress } from '../address.ts';
import { type Ctx, DUNNO, MAIL, type Result, SKIP_NO_SENDER, type Wait } from '../engine/context.ts';
import { classifyOther, lookupFailed } from '../engine/lookups.ts';
import { define } from './define.ts';
import { unlistedAddressReply } from './recipient.ts';

export const rejectNonFqdnSender = define({
  name: 'reject_non_fqdn_sender',
  arg: 'none',
  stage: MAIL,
  rejectCode: 504, // non_fqdn_reject_code
  evaluate: (_c, ctx): Result => {
    const sender = ctx.facts.sender;
    if (sender === undefined) return SKIP_NO_SENDER;
    if (sender === '') return DUNNO; // the null sender is always acceptable
    const { domain } = splitAddress(sender);
    if (domain.startsWith('[') ? parseAddressLiteral(domain) !== undefined : isFqdnDomain(domain)) return DUNNO;
    return { outcome: 'reject', status: '5.5.2', subject: { name: sender, context: 'Sender address rejected' }, text: 'need fully-qualified address', reason: 'sender domain is not fully qualified' };
  },
});

/**
 * Postfix check_rcpt_maps for a sender: a sender address in one of our domains must exist (550 5.1.0 by
 * default; unlistedAddressReply picks the code and words). The null sender and senders elsewhere pass.
 */
export function unlistedSender(ctx: Ctx): Result | Wait {
  const sender = ctx.facts.sender;
  if (sender === undefined) return SKIP_NO_SENDER;
  if (sender === '' || !sender.includes('@')) return DUNNO;
  return classifyOther(
    ctx,
    sender,
    (cls): Result => {
      if (cls !== 'unknown-user') return { outcome: 'dunno', reason: `sender ${cls}` };
      return unlistedAddressReply(ctx, sender, 'sender');
    },
    (e) => lookupFailed(sender, 'recipient directory', e),
  );
}

export const rejectUnlistedSender = define({
  name: 'reject_unlisted_sender',
  arg: 'none',
  stage: MAIL,
  rejectCode: 550, // unknown_*_recipient_reject_code by class (results carry it)
  evaluate: (_c, ctx) => unlistedSender(ctx),
});
