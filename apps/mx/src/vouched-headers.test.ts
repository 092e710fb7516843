import { describe, expect, it } from 'vitest';
import { authservId, headerBlockProblem, headerEnd, headerValue, isOurId, removedSummary, stripVouchedHeaders } from './vouched-headers.ts';

const ours = new Set(['mx1.example.org', 'example.org']);
const msg = (head: string, body = 'Hello\r\n') => Buffer.from(`${head.replace(/\n/g, '\r\n')}\r\n${body}`, 'latin1');

describe('authservId', () => {
  it('reads the first token, after comments and whitespace, with or without a version', () => {
    expect(authservId(' mx1.example.org; spf=pass smtp.mailfrom=a@b')).toBe('mx1.example.org');
    expect(authservId(' Example.ORG 1; dkim=pass')).toBe('example.org');
    expect(authservId(' (a comment (nested)) example.org;')).toBe('example.org');
    expect(authservId(' "example.org"; none')).toBe('example.org');
    expect(authservId('example.org')).toBe('example.org');
    expect(authservId('   ')).toBeUndefined();
    expect(authservId(' ; spf=pass')).toBeUndefined();
    // what an unquoting, normalising reader makes of it
    expect(authservId(' "exam\\ple.org"; none')).toBe('example.org');
    expect(authservId(' " example.org "; none')).toBe('example.org');
    expect(authservId(' example.org.; none')).toBe('example.org');
  });

  it('ours: the id, or any name under it (the whole ADMD)', () => {
    const ids = new Set(['example.org']);
    expect(isOurId('example.org', ids)).toBe(true);
    expect(isOurId('mx2.example.org', ids)).toBe(true);
    expect(isOurId('badexample.org', ids)).toBe(false);
    expect(isOurId(undefined, ids)).toBe(false);
  });
});

describe('stripVouchedHeaders', () => {
  it('removes a forged X-Moat-DNSBL-Score (SpamAssassin scores it) and X-Moat-DMARC, keeps other X-Moat-* fields', () => {
    const m = msg(['X-Moat-DNSBL-Score: -10 (list.dnswl.org -10)', 'x-moat-dmarc: pass', 'X-Moat-Queue-ID: 1', 'Subject: s', ''].join('\n'), 'body\r\n');
    const r = stripVouchedHeaders(m, ours);
    expect(r.removed).toEqual(['x-moat-dnsbl-score', 'x-moat-dmarc']);
    expect(r.message.toString('latin1')).toBe(['X-Moat-Queue-ID: 1', 'Subject: s', '', 'body', ''].join('\r\n'));
  });

  it('removes forged X-Spam-* and our Authentication-Results, folded ones whole, and keeps everything else', () => {
    const m = msg(
      [
        'Received: from a by b',
        'Authentication-Results: mx1.example.org; dkim=pass',
        '  header.d=bank.example',
        'Authentication-Results: other.example; spf=fail',
        'X-Spam-Flag: NO',
        'x-spam-status: No, score=-100',
        'X-Spam: no',
        'X-Spamd-Result: default: False [-9.0 / 15.0]',
        'X-Spam_score: -9',
        'Subject: X-Spam-Flag: NO is not a header here',
        'Authentication-Results: (forged) Example.Org 1; dmarc=pass',
        '',
      ].join('\n'),
      'X-Spam-Flag: NO in the body stays\r\n',
    );
    const r = stripVouchedHeaders(m, ours);
    expect(r.removed).toEqual(['authentication-results', 'x-spam-flag', 'x-spam-status', 'x-spam', 'x-spamd-result', 'x-spam_score', 'authentication-results']);
    expect(r.message.toString('latin1')).toBe(
      [
        'Received: from a by b',
        'Authentication-Results: other.example; spf=fail',
        'Subject: X-Spam-Flag: NO is not a header here',
        '',
        'X-Spam-Flag: NO in the body stays',
        '',
      ].join('\r\n'),
    );
  });

  it('returns the same buffer when there is nothing to remove, and never reads into the body', () => {
    const m = msg('Subject: hi\nFrom: a@b\n', 'X-Spam-Flag: YES\r\nAuthentication-Results: mx1.example.org; spf=pass\r\n');
    const r = stripVouchedHeaders(m, ours);
    expect(r.removed).toEqual([]);
    expect(r.message).toBe(m);
  });

  it('copes with bare LF, a header-only message, a message without headers, and 8-bit bytes', () => {
    const lf = Buffer.from('X-Spam-Flag: NO\nSubject: caf\xe9\n\nbody\n', 'latin1');
    expect(stripVouchedHeaders(lf, ours).message.toString('latin1')).toBe('Subject: caf\xe9\n\nbody\n');
    const headOnly = Buffer.from('Subject: x\r\nX-Spam-Score: -50', 'latin1');
    expect(stripVouchedHeaders(headOnly, ours).message.toString('latin1')).toBe('Subject: x\r\n');
    const noHead = Buffer.from('\r\nX-Spam-Flag: NO\r\n', 'latin1');
    expect(stripVouchedHeaders(noHead, ours).message).toBe(noHead);
  });
});

describe('malformed header blocks', () => {
  it('a field hidden behind a bare CR (some parsers break lines there) is removed with its line', () => {
    const m = Buffer.from('Subject: a\rX-Spam-Flag: YES\r\nFrom: b@c\r\n\r\nbody\r\n', 'latin1');
    const r = stripVouchedHeaders(m, ours);
    expect(r.removed).toEqual(['x-spam-flag']);
    expect(r.message.toString('latin1')).toBe('From: b@c\r\n\r\nbody\r\n');
    // an indented first line (some parsers trim it into a field) counts as well
    expect(stripVouchedHeaders(Buffer.from(' X-Spam-Flag: NO\r\nFrom: b@c\r\n\r\nbody', 'latin1'), ours).removed).toEqual(['x-spam-flag']);
  });

  it('the header block ends at the first empty line however its line ends mix, never at a bare CR', () => {
    expect(headerEnd(Buffer.from('Subject: a\n\r\nX-Spam-Flag: NO\r\n\r\nbody'))).toBe(11);
    const m = Buffer.from('Subject: a\n\r\nX-Spam-Flag: NO in the body\r\n', 'latin1');
    expect(stripVouchedHeaders(m, ours).message).toBe(m);
    expect(headerEnd(Buffer.from('Subject: a\r\rX-Spam-Flag: NO\nX-Spam-Status: No\n\nbody'))).toBe(46);
    expect(stripVouchedHeaders(Buffer.from('Subject: a\r\rX-Spam-Flag: NO\nX-Spam-Status: No\n\nbody'), ours).message.toString()).toBe('\nbody');
  });

  it('refuses what it will not parse: over 1 MiB of header, or over 10,000 header lines', () => {
    expect(headerBlockProblem(Buffer.from(`${'X-A: b\r\n'.repeat(100)}\r\nbody`))).toBeUndefined();
    expect(headerBlockProblem(Buffer.from('X-A: b\r\n'.repeat(10_001)))).toBe('more than 10000 header lines');
    expect(headerBlockProblem(Buffer.from(`X-A: ${'b'.repeat(1024 * 1024)}\r\n\r\nbody`))).toBe('header block larger than 1048576 bytes');
  });

  it('logs names once with counts, cut and bounded', () => {
    expect(removedSummary(['x-spam-flag', 'x-spam-flag', 'authentication-results'])).toEqual({ 'x-spam-flag': 2, 'authentication-results': 1 });
    const many = removedSummary(Array.from({ length: 50 }, (_, i) => `x-spam-${i}${'z'.repeat(100)}`));
    expect(Object.keys(many)).toHaveLength(10);
    expect(Object.keys(many).every((k) => k.length === 40)).toBe(true);
  });
});

describe('headerValue', () => {
  it('reads the first field of a name in the header block only, case-insensitively, unfolded', () => {
    expect(headerValue(msg('x-spam-status: No, score=1.0\n\trequired=5.0\nX-Spam-Status: Yes\n'), 'X-Spam-Status')).toBe('No, score=1.0\trequired=5.0');
    expect(headerValue(msg('Subject: a\n', 'X-Spam-Status: No\r\n'), 'X-Spam-Status')).toBeUndefined();
    expect(headerValue(msg('Subject: a\n  X-Spam-Status: folded into the subject\n'), 'X-Spam-Status')).toBeUndefined();
  });
});
