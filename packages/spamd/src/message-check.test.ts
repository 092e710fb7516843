import { describe, expect, it } from 'vitest';
import { checkMessage } from './message-check.ts';

const ok = Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n folded\r\n\r\nbody\r\n');
const reason = (s: string | Buffer, max = 1000) => {
  const r = checkMessage(Buffer.isBuffer(s) ? s : Buffer.from(s), max);
  return r.ok ? 'ok' : r.reason;
};

describe('checkMessage', () => {
  it('accepts an RFC 5322 message, with LF or CRLF, an mbox From_ line, or no body at all', () => {
    expect(checkMessage(ok, 1000)).toEqual({ ok: true, headerFields: 3 });
    expect(reason('From: a@example.org\nSubject: x\n\nbody\n')).toBe('ok');
    expect(reason('From a@example.org Mon Dec  7 04:00:00 2026\nFrom: a@example.org\n\nx')).toBe('ok');
    expect(reason('From: a@example.org\r\nSubject: only headers\r\n')).toBe('ok');
    // 8-bit body text is fine (not every mail is 7-bit clean)
    expect(reason(Buffer.concat([Buffer.from('From: a@example.org\n\n'), Buffer.from([0xe9, 0xff, 0x80])]))).toBe('ok');
  });

  it('refuses what is not a message, each with its reason', () => {
    expect(reason('')).toBe('empty');
    expect(reason('\r\n \n')).toBe('empty');
    expect(reason(ok, 10)).toBe('too-large');
    expect(reason(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]))).toBe('binary');
    expect(reason('%PDF-1.7\n%\xe2\xe3\n1 0 obj\n')).toBe('no-header');
    expect(reason('hello, this is just some text\nwith lines\n')).toBe('no-header');
    expect(reason(' From: a@example.org\n\nx')).toBe('no-header');
    expect(reason('From: a@example.org\nnot a field\n\nx')).toBe('no-header');
    expect(reason('Subject: no sender\nTo: b@example.net\n\nx')).toBe('no-from');
    expect(reason('From: a@example.org\nX-Bad: a\x01b\n\nx')).toBe('binary');
  });

  it('names the problem in the detail', () => {
    const r = checkMessage(Buffer.from('just text\n'), 1000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toMatch(/first line is not a header field: "just text"/);
  });
});
