import { describe, expect, it } from 'vitest';
import { formatStsPolicy, mxMatches, parseStsPolicy, parseStsTxt, StsPolicyError } from './mta-sts.ts';

describe('MTA-STS TXT record', () => {
  it('reads the id of the one v=STSv1 record', () => {
    expect(parseStsTxt(['v=STSv1; id=20260101T000000;'])).toBe('20260101T000000');
    expect(parseStsTxt(['v=spf1 -all', 'v=STSv1; id=abc'])).toBe('abc');
  });
  it('is no policy when two records say STSv1, or the id is bad', () => {
    expect(parseStsTxt(['v=STSv1; id=a', 'v=STSv1; id=b'])).toBeUndefined();
    expect(parseStsTxt(['v=STSv1; id=not-valid!'])).toBeUndefined();
    expect(parseStsTxt(['v=STSv1;'])).toBeUndefined();
  });
});

describe('MTA-STS policy file', () => {
  it('parses a policy (CRLF or LF) and caps max_age at a year', () => {
    const p = parseStsPolicy('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 9999999999\r\n');
    expect(p).toEqual({ mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 31_557_600 });
    expect(parseStsPolicy('version: STSv1\nmode: none\nmax_age: 86400\n').mode).toBe('none');
  });
  it('rejects bad syntax', () => {
    for (const bad of ['', 'version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1', 'version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1', 'version: STSv1\nmode: enforce\nmax_age: 1', 'version: STSv1\nmode: enforce\nmx: a.b', '<html>', 'version: STSv1\nmode: enforce\nmx: *.*.b\nmax_age: 5']) {
      expect(() => parseStsPolicy(bad), bad).toThrow(StsPolicyError);
    }
  });
  it('matches MX hosts as RFC 8461 4.1 says', () => {
    const p = parseStsPolicy(formatStsPolicy({ mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 60 }));
    expect(mxMatches(p, 'mail.example.com.')).toBe(true);
    expect(mxMatches(p, 'MX1.example.net')).toBe(true);
    expect(mxMatches(p, 'a.b.example.net')).toBe(false);
    expect(mxMatches(p, 'example.net')).toBe(false);
    expect(mxMatches(p, 'evil-mail.example.com')).toBe(false);
  });
});
