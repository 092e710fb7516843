import type { SpamdView } from '@moat/config';
import { describe, expect, it } from 'vitest';
import { spamDecision } from './spam-policy.ts';

const base: SpamdView = { enabled: true, host: '127.0.0.1', port: 783, timeoutMs: 1000, connectTimeoutMs: 100, maxConnections: 1, rejectScore: 10, onFailure: 'accept', maxScanBytes: 1000 };
const scan = (score: number) => ({ result: { score, threshold: 5, isSpam: score >= 5 } }) as Parameters<typeof spamDecision>[0];

describe('spamDecision with a quarantine band', () => {
  it('quarantine_threshold <= score < reject: quarantined with the headers it would have carried', () => {
    const s = { ...base, quarantineScore: 6 };
    expect(spamDecision(scan(5.9), s).action).toBe('accept');
    expect(spamDecision(scan(6), s)).toMatchObject({ action: 'quarantine', score: 6, reason: 'score 6.0, quarantine at 6.0, reject at 10.0', headers: ['X-Spam-Flag: YES', 'X-Spam-Score: 6.0', 'X-Spam-Status: Yes, score=6.0 required=5.0'] });
    expect(spamDecision(scan(10), s).action).toBe('reject');
  });

  it('no quarantine band by default', () => {
    expect(spamDecision(scan(9.9), base).action).toBe('accept');
  });
});
