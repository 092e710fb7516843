// reject_unknown_sender_domain, reject_unknown_recipient_domain: a domain of someone else's must exist in the DNS.
// Trusts the mail-domain port (MX, else A/AAAA) and the recipient port (domains of ours are not asked about).
import { type Compiled, type Ctx, DUNNO, fixStatus, MAIL, RCPT, type Result, SKIP_NO_SENDER, type Wait, wait } from '../engine/context.ts';
import { classifyOther, lookupFailed, withClass } from '../engine/lookups.ts';
import { deferIfPermit } from '../engine/modifiers.ts';
import type { MailDomainAnswer, RecipientClass } from '../types.ts';
import { define } from './define.ts';

/** Postfix reject_unknown_mailhost, after reject_unknown_address skipped our own domains and literals. */
function judge(ctx: Ctx, c: Compiled, address: string, domain: string, isSender: boolean, answer: MailDomainAnswer): Result {
  const cls = isSender ? 'Sender address' : 'Recipient address';
  switch (answer) {
    case 'ok':
      return { outcome: 'dunno', reason: `${domain}: found` };
    case 'null-mx': {
      const code = isSender ? 550 : 556;
      return { outcome: 'reject', status: fixStatus(code, isSender ? '4.7.27' : '4.1.10'), subject: { name: address, context: `${cls} rejected` }, text: `Domain ${domain} does not accept mail (nullMX)`, reason: `${domain}: null MX`, smtpCode: code };
    }
    case 'not-found': {
      const code = ctx.env.unknownAddressRejectCode;
      return { outcome: code < 500 ? 'defer' : 'reject', status: fixStatus(code, isSender ? '4.1.8' : '4.1.2'), subject: { name: address, context: `${cls} rejected` }, text: 'Domain not found', reason: `${domain}: no MX, A or AAAA`, smtpCode: code };
    }
    default: {
      const res: Result = { outcome: 'defer', status: isSender ? '4.1.8' : '4.1.2', subject: { name: address, context: `${cls} rejected` }, text: 'Domain not found', reason: `${domain}: DNS lookup failed for now`, smtpCode: 450 };
      // unknown_address_tempfail_action: defer_if_permit (the default) or defer at once
      return ctx.env.unknownAddressTempfailDefers ? res : deferIfPermit(ctx, c, res);
    }
  }
}

function askDns(ctx: Ctx, c: Compiled, address: string, domain: string, isSender: boolean): Result | Wait {
  const env = ctx.env;
  const sync = env.checkDomainSync?.(domain);
  if (sync !== undefined) return judge(ctx, c, address, domain, isSender, sync);
  let pending: Promise<MailDomainAnswer>;
  try {
    pending = env.ports.mailDomains!.check(domain);
  } catch {
    return judge(ctx, c, address, domain, isSender, 'temporary');
  }
  return wait(pending, (a) => judge(ctx, c, address, domain, isSender, a), () => judge(ctx, c, address, domain, isSender, 'temporary'));
}

/** Postfix reject_unknown_address: local destinations and address literals are not looked up. */
function unknownAddress(ctx: Ctx, c: Compiled, address: string, isSender: boolean): Result | Wait {
  const at = address.lastIndexOf('@');
  if (at < 0) return DUNNO;
  const domain = address.slice(at + 1);
  if (domain === '' || (domain.startsWith('[') && domain.endsWith(']'))) return DUNNO;
  const then = (cls: RecipientClass): Result | Wait => (cls === 'remote' ? askDns(ctx, c, address, domain, isSender) : { outcome: 'dunno', reason: `a domain of ours (${cls})` });
  return isSender ? classifyOther(ctx, address, then, (e) => lookupFailed(address, 'recipient directory', e)) : withClass(ctx, then);
}

export const rejectUnknownSenderDomain = define({
  name: 'reject_unknown_sender_domain',
  arg: 'none',
  stage: MAIL,
  requires: 'mailDomains',
  rejectCode: 450, // unknown_address_reject_code (results carry it)
  evaluate: (c, ctx) => {
    const sender = ctx.facts.sender;
    if (sender === undefined) return SKIP_NO_SENDER;
    if (sender === '') return DUNNO;
    return unknownAddress(ctx, c, sender, true);
  },
});

export const rejectUnknownRecipientDomain = define({
  name: 'reject_unknown_recipient_domain',
  arg: 'none',
  stage: RCPT,
  requires: 'mailDomains',
  rejectCode: 450,
  evaluate: (c, ctx) => unknownAddress(ctx, c, ctx.facts.recipient!, false),
});
