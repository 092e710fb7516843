// The one table from a verdict to its SMTP basic reply code, with Postfix's defaults; edges use it.
// Never reads the enhanced status: a class that differs from its restriction's default comes as `smtpCode`.
// Trusts the verdict (built by the engine); an explicit code chosen by the admin always wins.
import { RESTRICTIONS } from './restrictions/table.ts';
import type { Verdict } from './types.ts';

/** Postfix *_reject_code defaults, by the kind of restriction that rejected (each module declares its own). */
const REJECT_CODE: ReadonlyMap<string, number> = new Map(RESTRICTIONS.flatMap((d) => (d.rejectCode === undefined ? [] : [[d.name, d.rejectCode] as const])));

/** The three-digit SMTP reply code for a verdict: 250, 4xx or 5xx. */
export function replyCode(v: Verdict): number {
  if (v.smtpCode !== undefined) return v.smtpCode;
  if (v.action === 'permit' || v.action === 'continue') return 250;
  // defer_unauth_destination answers relay_domains_reject_code - 100 (smtpd_check.c), 454 by default
  if (v.action === 'defer' && v.decidedByType === 'defer_unauth_destination') return 454;
  // lookup failures (451), command syntax (501) and "you are not me" (554) carry their code from the engine
  if (v.action === 'defer') return 450; // defer_code
  return (v.decidedByType && REJECT_CODE.get(v.decidedByType)) ?? 554;
}

/** The full reply line an edge sends: `550 5.1.1 <u@x>: Recipient address rejected: ...`. */
export function replyLine(v: Verdict): string {
  return `${replyCode(v)} ${v.status} ${v.text}`;
}
