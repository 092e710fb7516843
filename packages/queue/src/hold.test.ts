import { describe, expect, it } from 'vitest';
import { HOLD_META_KEYS, holdMeta } from './hold.ts';

describe('holdMeta', () => {
  it('records the check, the reason and a score when there is one; nothing without a hold', () => {
    expect(holdMeta(undefined)).toEqual({});
    expect(holdMeta({ check: 'dmarc', reason: 'p=quarantine' })).toEqual({ [HOLD_META_KEYS.check]: 'dmarc', [HOLD_META_KEYS.reason]: 'p=quarantine' });
    expect(holdMeta({ check: 'spamassassin', reason: 'score 7.5', score: 7.5 })).toEqual({ hold_check: 'spamassassin', hold_reason: 'score 7.5', hold_score: '7.5' });
  });
});
