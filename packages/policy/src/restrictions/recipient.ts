// Recipient restrictions: the envelope recipient's form and whether the user exists.
// Trusts the recipient port's classification; the address itself is client input.
import { isFqdnDomain, parseAddressLiteral, splitAddress } from '../address.ts';
import { type Ctx, DUNNO, type Env, fixStatus, RCPT, type Result, type Wait } from '../engine/context.ts';
import { lookupFailed, withClass } from '../engine/lookups.ts';
import type { RecipientVerification } from '../types.ts';
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
 * Postfix check_rcpt_maps' refusal of an unknown user: `<addr>: Recipient address rejected: TEXT` (`Sender address` for
 * a sender), TEXT and status as the recipient port words them (the class's table, or an error:/retry: transport's
 * text). The code is Postfix's for what refused (smtpd_check.c): the class's unknown_*_recipient_reject_code for a
 * table, 550 for an `error:` hop (unknown_virtual_alias_reject_code in a virtual alias domain), 450 for `retry:`;
 * smtpd_check_reject then gives the status the code's class, and a 4xx code defers.
 */
export function unlistedAddressReply(ctx: Ctx, address: string, as: 'recipient' | 'sender'): Result {
  const unknown = as === 'sender' ? '5.1.0' : '5.1.1';
  let refusal: RecipientVerification & { accepted: false } = { accepted: false, status: unknown, text: 'User unknown in local recipient table' };
  try {
    const v = ctx.env.ports.recipients.verifySync?.(address, as);
    if (v && !v.accepted) refusal = v;
  } catch (e) {
    // a table that cannot answer is smtpd's reject_dict_retry (451 4.3.0), never a hard reject; the engine logs
    // the verdict with this reason and the edge counts it by restriction and code
    return lookupFailed(address, `${as} directory`, e);
  }
  const code = refusalCode(ctx.env, refusal);
  const context = as === 'sender' ? 'Sender address rejected' : 'Recipient address rejected';
  const reason = refusal.by === 'retry' ? 'retry: transport' : as === 'sender' ? 'unknown sender in our domain' : 'unknown user';
  return { outcome: code < 500 ? 'defer' : 'reject', status: fixStatus(code, refusal.status), subject: { name: address, context }, text: refusal.text, reason, smtpCode: code };
}

/** The reply code check_rcpt_maps answers for a refusal, by what refused and the address's class. */
function refusalCode(env: Env, r: { class?: string | undefined; by?: string | undefined }): number {
  if (r.by === 'retry') return 450;
  if (r.by === 'alias') return 550; // moat's own refusal (Postfix accepts the key and fails at cleanup)
  if (r.class === 'virtual-alias') return env.unknownVirtualAliasRejectCode;
  if (r.by !== 'table') return 550;
  if (r.class === 'virtual-mailbox') return env.unknownVirtualMailboxRejectCode;
  if (r.class === 'relay') return env.unknownRelayRecipientRejectCode;
  return env.unknownLocalRecipientRejectCode;
}

/** The recipient's refusal (unlistedAddressReply for the envelope recipient). */
export function unlistedRecipientReply(ctx: Ctx): Result {
  return unlistedAddressReply(ctx, ctx.facts.recipient!, 'recipient');
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
  rejectCode: 550, // unknown_*_recipient_reject_code by class (results carry it)
  evaluate: (_c, ctx) => unlistedRecipient(ctx),
});
