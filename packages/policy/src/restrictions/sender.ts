// Sender restrictions: the envelope sender's form.
// Trusts nothing in the sender address; it is what the client wrote at MAIL FROM.
import { isFqdnDomain, parseAddressLiteral, splitAddress } from '../address.ts';
import { DUNNO, MAIL, type Result, SKIP_NO_SENDER } from '../engine/context.ts';
import { define } from './define.ts';

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
    return { outcome: 'reject', status: '5.5.2', text: `<${sender}>: Sender address rejected: need fully-qualified address`, reason: 'sender domain is not fully qualified' };
  },
});
