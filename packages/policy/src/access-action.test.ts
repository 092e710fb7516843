import { describe, expect, it } from 'vitest';
import { parseAccessAction } from './access-action.ts';

describe('access map right-hand sides', () => {
  it('parses the Postfix actions moat implements', () => {
    expect(parseAccessAction('OK')).toEqual({ kind: 'permit' });
    expect(parseAccessAction('permit')).toEqual({ kind: 'permit' });
    expect(parseAccessAction('12345')).toEqual({ kind: 'permit' });
    expect(parseAccessAction('DUNNO')).toEqual({ kind: 'dunno' });
    expect(parseAccessAction('REJECT')).toEqual({ kind: 'reject' });
    expect(parseAccessAction('REJECT go away')).toEqual({ kind: 'reject', text: 'go away' });
    expect(parseAccessAction('reject 5.7.0 go away')).toEqual({ kind: 'reject', status: '5.7.0', text: 'go away' });
    expect(parseAccessAction('DEFER later')).toEqual({ kind: 'defer', text: 'later' });
    expect(parseAccessAction('450 4.7.1 slow down')).toEqual({ kind: 'defer', code: 450, status: '4.7.1', text: 'slow down' });
    expect(parseAccessAction('554 no')).toEqual({ kind: 'reject', code: 554, text: 'no' });
    expect(parseAccessAction('PREPEND X-Seen: yes')).toEqual({ kind: 'prepend', header: 'X-Seen: yes' });
    expect(parseAccessAction('WARN odd')).toEqual({ kind: 'warn', text: 'odd' });
  });
  it('refuses what it does not implement or what is inconsistent', () => {
    for (const bad of ['HOLD', 'DISCARD', 'FILTER smtp:x', 'OK extra', 'DUNNO extra', '450 5.7.1 x', 'PREPEND not a header', '', '650 x']) {
      expect(parseAccessAction(bad), bad).toBeUndefined();
    }
  });
});
