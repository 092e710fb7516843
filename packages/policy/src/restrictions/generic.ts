// The generic restrictions: permit, reject, defer, dunno. They decide whatever the facts say.
// Trusts nothing but facts the edge observed itself; replies name the subject of the current stage, as Postfix's do.
import { DUNNO, type Result, stageSubject } from '../engine/context.ts';
import { deferIfPermit, deferIfReject } from '../engine/modifiers.ts';
import { define } from './define.ts';

export const permit = define({
  name: 'permit',
  aliases: ['ok'],
  arg: 'none',
  stage: 0,
  evaluate: () => ({ outcome: 'permit', status: '2.0.0', text: 'Ok' }),
});

export const reject = define({
  name: 'reject',
  arg: 'none',
  stage: 0,
  rejectCode: 554, // reject_code
  evaluate: (_c, ctx) => ({ outcome: 'reject', status: '5.7.1', subject: stageSubject(ctx), text: 'Access denied' }),
});

export const defer = define({
  name: 'defer',
  arg: 'none',
  stage: 0,
  evaluate: (_c, ctx) => ({ outcome: 'defer', status: '4.7.1', subject: stageSubject(ctx), text: 'Try again later' }),
});

export const dunno = define({
  name: 'dunno',
  arg: 'none',
  stage: 0,
  evaluate: () => DUNNO,
});

/** Postfix warn_if_reject: the next restriction's reject is logged (traced) as a warning, and the list goes on. */
export const warnIfReject = define({
  name: 'warn_if_reject',
  arg: 'none',
  stage: 0,
  evaluate: (_c, ctx): Result => {
    ctx.warnNext = 2; // the run loop counts this restriction's own result, then the next one's
    return { outcome: 'dunno', reason: 'the next restriction only warns' };
  },
});

/** Postfix defer_if_permit: 450 4.7.0 at the end of the RCPT checks unless something rejects. */
export const deferIfPermitRestriction = define({
  name: 'defer_if_permit',
  arg: 'none',
  stage: 0,
  evaluate: (c, ctx) => deferIfPermit(ctx, c, { outcome: 'defer', status: '4.7.0', subject: stageSubject(ctx), text: 'defer_if_permit requested', reason: 'defer_if_permit requested', smtpCode: 450 }),
});

/** Postfix defer_if_reject: a later 5xx reject becomes 450 4.7.0. */
export const deferIfRejectRestriction = define({
  name: 'defer_if_reject',
  arg: 'none',
  stage: 0,
  evaluate: (c, ctx) => deferIfReject(ctx, c, { outcome: 'defer', status: '4.7.0', subject: stageSubject(ctx), text: 'defer_if_reject requested', reason: 'defer_if_reject requested', smtpCode: 450 }),
});

/** Postfix reject_unauth_pipelining: the client talked ahead of us where SMTP does not allow it (the edge says so). */
export const rejectUnauthPipelining = define({
  name: 'reject_unauth_pipelining',
  arg: 'none',
  stage: 0,
  rejectCode: 503,
  evaluate: (_c, ctx): Result =>
    ctx.facts.improperPipelining
      ? { outcome: 'reject', status: '5.5.0', subject: stageSubject(ctx), text: 'Improper use of SMTP command pipelining', reason: 'commands sent ahead of our replies', smtpCode: 503 }
      : DUNNO,
});
