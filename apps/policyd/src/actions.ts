// Maps an engine verdict to one Postfix access(5) action for the `action=` reply line.
// The verdict's text may carry untrusted strings (DNS TXT records, addresses): it is flattened to one safe line.
import type { Stage, Verdict } from '@moat/policy';
import type { PolicydView } from '@moat/config';

const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROLS = /[\u0000-\u001f\u007f]+/g;

/** Postfix puts `action=` text into an SMTP reply: printable ASCII/UTF-8 on one line, bounded. */
export function safeText(text: string, max = 400): string {
  // the test first: most texts have no control character, and a test allocates nothing
  const flat = (CONTROL.test(text) ? text.replace(CONTROLS, ' ') : text).trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

const enhanced = /^[245]\.\d{1,3}\.\d{1,3}$/;

/**
 * The reply's words for Postfix. A verdict that names its subject (`<bob@example.org>: Recipient address
 * rejected: ...` at the mx) gives only its words here: Postfix adds that context to a policy server's
 * text on its own, and clients would otherwise read it twice.
 */
export function policyText(verdict: Pick<Verdict, 'text' | 'subject' | 'message'>): string {
  return verdict.subject !== undefined && verdict.message !== undefined ? verdict.message : verdict.text;
}

export interface ActionContext {
  settings: Pick<PolicydView, 'permitAction' | 'rejectStyle'>;
  stage: Stage;
  /** The SMTP reply code for a reject/defer verdict (chosen by the engine package's replyCode). */
  code: number;
  /** Names (lower case) of headers already prepended in this mail transaction: Postfix would add one per RCPT. */
  alreadyPrepended?: ReadonlySet<string> | undefined;
}

/** The action text (without `action=`), and the name of the header it prepends, if any. */
export function toAction(verdict: Verdict, ctx: ActionContext): { action: string; prepended?: string } {
  const text = safeText(policyText(verdict) || 'Policy rejection');
  switch (verdict.action) {
    case 'reject': {
      const status = enhanced.test(verdict.status) && verdict.status.startsWith('5') ? verdict.status : '5.7.1';
      const code = ctx.code >= 500 && ctx.code < 600 ? ctx.code : 554;
      return { action: ctx.settings.rejectStyle === 'reject' ? `REJECT ${status} ${text}` : `${code} ${status} ${text}` };
    }
    case 'defer': {
      const status = enhanced.test(verdict.status) && verdict.status.startsWith('4') ? verdict.status : '4.7.1';
      // A greylist deferral must not override a later explicit reject: DEFER_IF_PERMIT, like postgrey.
      if (verdict.greylisted) return { action: `DEFER_IF_PERMIT ${status} ${text}` };
      const code = ctx.code >= 400 && ctx.code < 500 ? ctx.code : 450;
      return { action: `${code} ${status} ${text}` };
    }
    default: {
      // PREPEND cannot run in smtpd_end_of_data_restrictions, and only one action fits in a reply.
      if (ctx.stage !== 'end-of-data') {
        for (const h of verdict.prepend) {
          const header = safeText(h, 900);
          const name = /^([\x21-\x39\x3b-\x7e]+):/.exec(header)?.[1]?.toLowerCase();
          if (!name || ctx.alreadyPrepended?.has(name)) continue;
          return { action: `PREPEND ${header}`, prepended: name };
        }
      }
      if (verdict.action === 'permit') return { action: ctx.settings.permitAction };
      return { action: 'DUNNO' };
    }
  }
}
