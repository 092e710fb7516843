import { describe, expect, it } from 'vitest';
import { parseMainCf } from './main-cf.ts';

describe('parseMainCf (readlline + split_nameval)', () => {
  it('joins continuation lines as they are, skipping comment and blank lines inside, and keeps line numbers', () => {
    const cf = parseMainCf('a = x\n  y\n# c\n\n  # c2\n\tz\nb=1\n');
    expect(cf.entries.get('a')).toEqual({ name: 'a', value: 'x  y\tz', line: 1, lastLine: 6 });
    expect(cf.entries.get('b')?.line).toBe(7);
  });
  it('a # after a value is part of it', () => {
    expect(parseMainCf('m = inet:localhost:12301 # Don\'t copy\n').entries.get('m')?.value).toBe("inet:localhost:12301 # Don't copy");
  });
  it('later definitions win, with a warning naming both lines', () => {
    const cf = parseMainCf('a = 1\nb = 2\na = 3\n');
    expect(cf.entries.get('a')?.value).toBe('3');
    expect(cf.all).toHaveLength(3);
    expect(cf.problems).toEqual([{ line: 3, name: 'a', severity: 'warning', message: 'overrides the definition on line 1 (the later one wins, as in Postfix)' }]);
  });
  it('a line without = is fatal (as in Postfix); a logical line starting with whitespace is dropped with a warning', () => {
    const cf = parseMainCf(' lead = x\nfoo bar\nok = 1\n');
    expect(cf.entries.has('lead')).toBe(false);
    expect(cf.problems.map((p) => [p.line, p.severity])).toEqual([
      [1, 'warning'],
      [2, 'fatal'],
    ]);
    expect(cf.entries.get('ok')?.value).toBe('1');
  });
  it('trims the value and accepts = without blanks; CRLF files read like LF', () => {
    const cf = parseMainCf('a=b  \r\nc\t=\t d e \r\n');
    expect(cf.entries.get('a')?.value).toBe('b');
    expect(cf.entries.get('c')?.value).toBe('d e');
  });
});
