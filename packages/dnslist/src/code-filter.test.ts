import { describe, expect, it } from 'vitest';
import { CodeFilterError, matchesCode, parseCodeFilter } from './code-filter.ts';

describe('Postfix return-code filters', () => {
  it('no filter and bare = match any A record', () => {
    for (const f of [undefined, '', '=']) {
      expect(matchesCode(f, '127.0.0.2')).toBe(true);
      expect(matchesCode(f, '127.255.255.254')).toBe(true);
    }
  });
  it('=127.0.0.2 matches exactly', () => {
    expect(matchesCode('=127.0.0.2', '127.0.0.2')).toBe(true);
    expect(matchesCode('127.0.0.2', '127.0.0.3')).toBe(false);
  });
  it('ranges: 127.0.[0..255].[2..3]', () => {
    const f = parseCodeFilter('127.0.[0..255].[2..3]');
    expect(matchesCode(f, '127.0.10.3')).toBe(true);
    expect(matchesCode(f, '127.0.5.2')).toBe(true);
    expect(matchesCode(f, '127.0.5.1')).toBe(false);
    expect(matchesCode(f, '127.1.5.2')).toBe(false);
  });
  it('lists: 127.0.0.[1;5] and mixed [1;3..4]', () => {
    expect(matchesCode('127.0.0.[1;5]', '127.0.0.1')).toBe(true);
    expect(matchesCode('127.0.0.[1;5]', '127.0.0.5')).toBe(true);
    expect(matchesCode('127.0.0.[1;5]', '127.0.0.3')).toBe(false);
    expect(matchesCode('127.0.0.[1;3..4]', '127.0.0.4')).toBe(true);
    expect(matchesCode('127.3.100.[5..100]', '127.3.100.100')).toBe(true);
    expect(matchesCode('127.3.100.[5..100]', '127.3.100.101')).toBe(false);
  });
  it('rejects malformed filters', () => {
    for (const bad of ['127.0.0', '127.0.0.256', '127.0.0.[5..1]', '127.0.0.[1', '127.0.0.[]', 'a.b.c.d', '127.0.0.[1..2..3]']) {
      expect(() => parseCodeFilter(bad), bad).toThrow(CodeFilterError);
    }
  });
  it('never matches something that is not a dotted quad', () => {
    expect(matchesCode('', 'example')).toBe(false);
  });
});
