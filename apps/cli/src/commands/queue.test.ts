// The queue's presentation (mailq text) and where the spool directory comes from.
import { describe, expect, it } from 'vitest';
import { formatList, spoolDir } from './queue.ts';

describe('formatList', () => {
  it('prints mailq-style rows with state marks, the null sender, errors and retry times', () => {
    const text = formatList([
      { id: 'AAAA', state: 'deferred', size: 2048, arrival: Date.UTC(2026, 0, 2, 3, 4, 5), sender: '', recipients: [{ address: 'b@example.org', state: 'pending' }], nextRetry: 0, lastError: '451 4.3.0 not now' },
      { id: 'BBBB', state: 'hold', size: 10, sender: 'evil\u001b[31m@example.net', recipients: [{ address: 'c@example.org', state: 'sent' }] },
    ]);
    expect(text).toContain('AAAA      2048 2026-01-02 03:04:05Z deferred  MAILER-DAEMON');
    expect(text).toContain('  (451 4.3.0 not now)');
    expect(text).toContain('  next retry: now (flushed)');
    expect(text).toContain('BBBB!');
    expect(text).toContain('c@example.org [sent]');
    expect(text).toContain('evil\\x1b[31m@example.net');
    expect(text).not.toContain('\u001b');
    expect(text).toMatch(/-- 3 Kbytes in 2 Requests\.\n$/);
    expect(formatList([])).toBe('Mail queue is empty\n');
  });
});

describe('spoolDir', () => {
  it('takes --dir, then $MOAT_QUEUE_DIR, then the default when no config is named or present', () => {
    expect(spoolDir({ dir: '/a' }, { MOAT_QUEUE_DIR: '/b' })).toBe('/a');
    expect(spoolDir({}, { MOAT_QUEUE_DIR: '/b' })).toBe('/b');
  });
});
