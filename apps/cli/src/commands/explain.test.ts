import { describe, expect, it } from 'vitest';
import { formatEntry } from './explain.ts';

describe('moat explain: a journal entry', () => {
  it("shows the weighted DNS lists' sum and each list's part in the trace", () => {
    const reason = 'score 5: zen.spamhaus.org=127.0.0.[2..11]*3 127.0.0.4 +3, bl.spamcop.net*2 127.0.0.2 +2 (threshold 4)';
    const text = formatEntry({
      time: Date.UTC(2026, 11, 7, 3, 0, 0),
      node: 'mx1',
      session: 'S1',
      facts: { stage: 'rcpt', clientAddress: '192.0.2.50', helo: 'h.example', sender: 'a@b.example', recipient: 'u@example.org', tls: false },
      verdict: {
        action: 'reject',
        status: '5.7.1',
        text: 'Service unavailable; Client host [192.0.2.50] blocked using zen.spamhaus.org, bl.spamcop.net (DNSBL score 5)',
        decidedBy: 'reject_dnsbl_score',
        decidedByType: 'reject_dnsbl_score',
        prepend: [],
        trace: [{ restriction: 'reject_dnsbl_score', list: 'recipient', outcome: 'reject', reason, ms: 2 }],
      },
    });
    expect(text).toContain(reason);
    expect(text).toContain('=> REJECT 5.7.1 by reject_dnsbl_score');
    expect(text).toContain('(DNSBL score 5)');
  });
});
