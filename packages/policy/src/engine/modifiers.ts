// Postfix's pseudo-restrictions that change other results: warn_if_reject, defer_if_permit, defer_if_reject.
// Trusts the results they are given; applied by the run loop to every restriction's result.
import { type Compiled, type Ctx, type Result, resultText } from './context.ts';

/** A lookup or configuration failure (4.3.x): Postfix never turns these into warnings. */
const isServerError = (res: Result): boolean => res.status?.startsWith('4.3.') === true;

/**
 * Applies the pending modifiers to one restriction's result (the run loop calls it only when one is
 * pending): under warn_if_reject a reject or defer is logged as a warning and the list goes on; with
 * defer_if_reject raised, a 5xx reject becomes that deferral.
 */
export function adjust(ctx: Ctx, c: Compiled, res: Result): Result {
  if (ctx.warnNext !== 0 && --ctx.warnNext === 0 && (res.outcome === 'reject' || res.outcome === 'defer') && !isServerError(res)) {
    return { outcome: 'dunno', reason: `reject_warning: ${res.status ?? ''} ${resultText(res) ?? ''}${res.reason ? ` (${res.reason})` : ''}` };
  }
  const held = ctx.deferIfReject;
  if (held !== undefined && res.outcome === 'reject' && (res.smtpCode === undefined || res.smtpCode >= 500)) {
    ctx.deferIfReject = undefined;
    return { ...held.res, reason: `defer_if_reject (${held.c.text}) instead of: ${res.reason ?? resultText(res) ?? c.text}` };
  }
  return res;
}

/**
 * Postfix DEFER_IF_PERMIT: keep the deferral for the end of the RCPT checks (given only if nothing
 * rejects) and go on. Under warn_if_reject it is a plain (warned) deferral, as in Postfix.
 */
export function deferIfPermit(ctx: Ctx, c: Compiled, res: Result): Result {
  if (ctx.warnNext !== 0) return res;
  if (ctx.deferIfPermit === undefined) ctx.deferIfPermit = { c, res };
  return { outcome: 'dunno', reason: `defer_if_permit: ${res.reason ?? resultText(res)}` };
}

/** Postfix DEFER_IF_REJECT: keep the deferral; a later 5xx reject becomes it. */
export function deferIfReject(ctx: Ctx, c: Compiled, res: Result): Result {
  if (ctx.deferIfReject === undefined) ctx.deferIfReject = { c, res };
  return { outcome: 'dunno', reason: `defer_if_reject: ${res.reason ?? resultText(res)}` };
}
