import { describe, expect, it } from 'vitest';
import { authservId, headerValue, stripVouchedHeaders } from './vouched-headers.ts';

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
  });
});

describe('stripVouchedHeaders', () => {
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
        'X-Spammy-Thing: kept',
        'Subject: X-Spam-Flag: NO is not a header here',
        'Authentication-Results: (forged) Example.Org 1; dmarc=pass',
        '',
      ].join('\n'),
      'X-Spam-Flag: NO in the body stays\r\n',
    );
    const r = stripVouchedHeaders(m, ours);
    expect(r.removed).toEqual(['authentication-results', 'x-spam-flag', 'x-spam-status', 'x-spam', 'authentication-results']);
    expect(r.message.toString('latin1')).toBe(
      [
        'Received: from a by b',
        'Authentication-Results: other.example; spf=fail',
        'X-Spammy-Thing: kept',
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

describe('headerValue', () => {
  it('reads the first field of a name in the header block only, case-insensitively, unfolded', () => {
    expect(headerValue(msg('x-spam-status: No, score=1.0\n\trequired=5.0\nX-Spam-Status: Yes\n'), 'X-Spam-Status')).toBe('No, score=1.0\trequired=5.0');
    expect(headerValue(msg('Subject: a\n', 'X-Spam-Status: No\r\n'), 'X-Spam-Status')).toBeUndefined();
    expect(headerValue(msg('Subject: a\n  X-Spam-Status: folded into the subject\n'), 'X-Spam-Status')).toBeUndefined();
  });
});
