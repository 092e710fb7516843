import { describe, expect, it } from 'vitest';
import { dataVerdict, journalDataOutcome } from './data-decision.ts';

describe('DATA-stage outcomes as decisions', () => {
  it('a spamd reject is a reject decided by spamassassin, with its reply split into status and text', () => {
    const v = dataVerdict({ check: 'spamassassin', action: 'reject', code: 550, text: '5.7.1 Message content rejected as spam (score 1000.0)', reason: 'score 1000.0' });
    expect(v).toMatchObject({ action: 'reject', status: '5.7.1', text: 'Message content rejected as spam (score 1000.0)', decidedBy: 'spamassassin', smtpCode: 550 });
    expect(v.trace).toEqual([{ restriction: 'spamassassin', list: 'recipient', outcome: 'reject', reason: 'score 1000.0', ms: 0 }]);
  });

  it('journals under the session at stage end-of-data with the reply sent; a failing sink is swallowed', () => {
    const got: unknown[] = [];
    const facts = { clientAddress: '192.0.2.1', sessionId: 'S1', tls: false };
    journalDataOutcome({ record: (f, v, x) => got.push({ f, v, x }) }, facts, { check: 'message_size_limit', action: 'reject', code: 552, text: '5.3.4 Message size exceeds fixed maximum message size' });
    expect(got).toMatchObject([{ f: { stage: 'end-of-data', sessionId: 'S1' }, v: { action: 'reject', decidedBy: 'message_size_limit' }, x: { reply: '552 5.3.4 Message size exceeds fixed maximum message size' } }]);
    expect(() =>
      journalDataOutcome({ record: () => { throw new Error('down'); } }, facts, { check: 'spamassassin', action: 'defer', code: 451, text: '4.7.1 x' }),
    ).not.toThrow();
    expect(() => journalDataOutcome(undefined, facts, { check: 'spamassassin', action: 'defer', code: 451, text: '4.7.1 x' })).not.toThrow();
  });
});
