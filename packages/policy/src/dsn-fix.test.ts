import { describe, expect, it } from 'vitest';
import { smtpdDsnFix } from './dsn-fix.ts';

describe('smtpdDsnFix (smtpd_dsn_fix.c)', () => {
  it('maps address statuses to the side being refused', () => {
    expect(smtpdDsnFix('5.1.1', 'sender')).toBe('5.1.7');
    expect(smtpdDsnFix('5.1.0', 'sender')).toBe('5.1.0');
    expect(smtpdDsnFix('5.1.6', 'sender')).toBe('5.1.7');
    expect(smtpdDsnFix('5.1.1', 'recipient')).toBe('5.1.1');
    expect(smtpdDsnFix('5.1.7', 'recipient')).toBe('5.1.3');
    expect(smtpdDsnFix('5.1.3', 'sender')).toBe('5.1.7');
    expect(smtpdDsnFix('4.1.2', 'sender')).toBe('4.1.8');
    expect(smtpdDsnFix('5.1.9', 'recipient')).toBe('5.1.0');
    expect(smtpdDsnFix('5.7.1', 'sender')).toBe('5.7.1');
    expect(smtpdDsnFix('4.3.0', 'recipient')).toBe('4.3.0');
    expect(smtpdDsnFix('5.1.1', 'other')).toBe('5.0.0');
    expect(smtpdDsnFix('4.7.1', 'other')).toBe('4.7.1');
  });
});
