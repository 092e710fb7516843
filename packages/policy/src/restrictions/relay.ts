// Relay control: whether the recipient's domain is ours (or one we relay for).
// Trusts the recipient port's classification; hostile address forms were refused before any list ran.
import { RCPT, type Result } from '../engine/context.ts';
import { withClass } from '../engine/lookups.ts';
import { define } from './define.ts';

export const rejectUnauthDestination = define({
  name: 'reject_unauth_destination',
  arg: 'none',
  stage: RCPT,
  rejectCode: 554, // relay_domains_reject_code
  evaluate: (_c, ctx) =>
    withClass(ctx, (cls): Result => {
      if (cls !== 'remote') return { outcome: 'dunno', reason: cls };
      return { outcome: 'reject', status: '5.7.1', text: `<${ctx.facts.recipient}>: Relay access denied`, reason: 'not a domain of ours' };
    }),
});

export const permitAuthDestination = define({
  name: 'permit_auth_destination',
  arg: 'none',
  stage: RCPT,
  evaluate: (_c, ctx) => withClass(ctx, (cls): Result => (cls === 'remote' ? { outcome: 'dunno', reason: cls } : { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: cls })),
});

export const deferUnauthDestination = define({
  name: 'defer_unauth_destination',
  arg: 'none',
  stage: RCPT,
  evaluate: (_c, ctx) =>
    withClass(ctx, (cls): Result => {
      if (cls !== 'remote') return { outcome: 'dunno', reason: cls };
      return { outcome: 'defer', status: '4.7.1', text: `<${ctx.facts.recipient}>: Relay access denied`, reason: 'not a domain of ours' };
    }),
});
