// The generic restrictions: permit, reject, defer, dunno. They decide whatever the facts say.
// Trusts nothing; their reply names the subject of the current stage, as Postfix's do.
import { DUNNO, stageSubject } from '../engine/context.ts';
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
  evaluate: (_c, ctx) => ({ outcome: 'reject', status: '5.7.1', text: `${stageSubject(ctx)}: Access denied` }),
});

export const defer = define({
  name: 'defer',
  arg: 'none',
  stage: 0,
  evaluate: (_c, ctx) => ({ outcome: 'defer', status: '4.7.1', text: `${stageSubject(ctx)}: Try again later` }),
});

export const dunno = define({
  name: 'dunno',
  arg: 'none',
  stage: 0,
  evaluate: () => DUNNO,
});
