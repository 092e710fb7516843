import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesCode, parseCodeFilter } from './code-filter.ts';
import { PolicyError } from './errors.ts';

type Range = [number, number];
const octet = fc.integer({ min: 0, max: 255 });
const range: fc.Arbitrary<Range> = fc.tuple(octet, octet).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
/** One octet of a pattern: a plain number, or [..] with ;-separated numbers and ranges. */
const octetPattern = fc.oneof(
  octet.map((n) => ({ text: String(n), ranges: [[n, n] as Range] })),
  fc.array(fc.oneof(octet.map((n): Range => [n, n]), range), { minLength: 1, maxLength: 4 }).map((rs) => ({
    text: `[${rs.map(([a, b]) => (a === b ? String(a) : `${a}..${b}`)).join(';')}]`,
    ranges: rs,
  })),
);
const pattern = fc.tuple(octetPattern, octetPattern, octetPattern, octetPattern);
const code = fc.tuple(octet, octet, octet, octet);

describe('return-code filters', () => {
  it('parses the seed filters', () => {
    for (const f of ['127.0.[0..255].[2..3]', '127.0.0.[1;5]', '127.0.2.[1;2]', '127.3.100.[5..100]']) {
      expect(parseCodeFilter(f).text).toBe(f);
    }
    expect(parseCodeFilter('').any).toBe(true);
  });

  it('matches like Postfix', () => {
    expect(matchesCode('127.0.[0..255].[2..3]', '127.0.15.2')).toBe(true);
    expect(matchesCode('127.0.[0..255].[2..3]', '127.0.15.4')).toBe(false);
    expect(matchesCode('127.0.0.[1;5]', '127.0.0.5')).toBe(true);
    expect(matchesCode('127.0.0.[1;5]', '127.0.0.3')).toBe(false);
    expect(matchesCode('', '127.0.0.3')).toBe(true);
    expect(matchesCode(undefined, '127.0.0.3')).toBe(true);
    expect(matchesCode('127.0.0.2', '127.0.0.2')).toBe(true);
    expect(matchesCode('127.0.0.2', '127.0.0.20')).toBe(false);
    expect(matchesCode('127.0.0.2', 'junk')).toBe(false);
    expect(matchesCode('127.0.0.2', '127.0.0')).toBe(false);
    expect(matchesCode('127.0.0.2', '127.0.0.2.1')).toBe(false);
  });

  it('refuses malformed patterns with a PolicyError naming the pattern', () => {
    for (const bad of ['127.0.0', '127.0.0.0.1', '127.0.0.[2..]', '127.0.0.[', '127.0.0.]', '127.0.0.[3..2]', '127.0.0.256', '127.0.0.[1;;2]', '127.0.0.x', '127.0.0.[[1]]', '127.0.0.[]', '127..0.1']) {
      expect(() => parseCodeFilter(bad), bad).toThrow(PolicyError);
      try {
        parseCodeFilter(bad);
      } catch (e) {
        expect((e as PolicyError).item).toBe(bad);
        expect((e as PolicyError).code).toBe('POLICY_BAD_CODE_FILTER');
      }
    }
  });

  it('property: a generated pattern round-trips and matches exactly its ranges', () => {
    fc.assert(
      fc.property(pattern, code, (p, c) => {
        const text = p.map((o) => o.text).join('.');
        const f = parseCodeFilter(text);
        expect(f.text).toBe(text);
        const expected = p.every((o, i) => o.ranges.some(([a, b]) => c[i]! >= a && c[i]! <= b));
        expect(matchesCode(f, c.join('.'))).toBe(expected);
        expect(matchesCode(text, c.join('.'))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a plain d.d.d.d pattern matches only that code', () => {
    fc.assert(
      fc.property(code, code, (a, b) => {
        expect(matchesCode(a.join('.'), b.join('.'))).toBe(a.join('.') === b.join('.'));
      }),
    );
  });

  it('property: arbitrary text either parses or throws a PolicyError, never anything else', () => {
    const chars = fc.constantFrom(...'0123456789.[];x '.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }).map((a) => a.join('')), (s) => {
        try {
          const f = parseCodeFilter(s);
          // anything accepted must behave as a matcher on any code
          expect(typeof matchesCode(f, '127.0.0.2')).toBe('boolean');
        } catch (e) {
          expect(e).toBeInstanceOf(PolicyError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('property: matching never accepts a non-dotted-quad answer', () => {
    fc.assert(
      fc.property(pattern, fc.string(), (p, s) => {
        if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(s)) return;
        expect(matchesCode(p.map((o) => o.text).join('.'), s)).toBe(false);
      }),
    );
  });
});
