import { describe, expect, it } from 'vitest';
import { SpamdError } from './errors.ts';
import { didLearn, parseHeaderBlock, parseReply, parseSpamHeader, parseSymbols, requestHead } from './protocol.ts';

describe('SPAMC framing', () => {
  it('builds a request head with Content-length', () => {
    expect(requestHead('CHECK', 12).toString()).toBe('CHECK SPAMC/1.5\r\nContent-length: 12\r\n\r\n');
    expect(requestHead('PING', 0).toString()).toBe('PING SPAMC/1.5\r\n\r\n');
    expect(() => requestHead('CHECK', 1, 'a\r\nb')).toThrow(TypeError);
  });

  it('parses the Spam header', () => {
    expect(parseSpamHeader('True ; 1005.2 / 5.0')).toEqual({ isSpam: true, score: 1005.2, threshold: 5 });
    expect(parseSpamHeader('False ; -1.9 / 5.0')).toEqual({ isSpam: false, score: -1.9, threshold: 5 });
    expect(() => parseSpamHeader('maybe')).toThrow(SpamdError);
    expect(() => parseSpamHeader(undefined)).toThrow(SpamdError);
  });

  it('parses replies, symbols and header blocks', () => {
    const r = parseReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nContent-length: 11\r\nSpam: True ; 9.0 / 5.0\r\n\r\nGTUBE,A_B_Cxx'));
    expect(r.status).toBe(0);
    expect(r.body).toBe('GTUBE,A_B_C');
    expect(parseSymbols(r.body)).toEqual(['GTUBE', 'A_B_C']);
    expect(parseReply(Buffer.from('SPAMD/1.5 0 PONG\r\n')).message).toBe('PONG');
    expect(() => parseReply(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'))).toThrow(/status line/);
    expect(() => parseReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nContent-length: 50\r\n\r\nshort'))).toThrow(/short body/);
    const h = parseHeaderBlock('Subject: x\r\nX-Spam-Status: Yes, score=9\r\n\ttests=GTUBE\r\n\r\n');
    expect(h).toEqual([
      { name: 'Subject', value: 'x' },
      { name: 'X-Spam-Status', value: 'Yes, score=9\r\n\ttests=GTUBE' },
    ]);
  });

  it('TELL: spamc -L framing, and DidSet: local means learned', () => {
    expect(requestHead('TELL', 5, undefined, 'spam').toString()).toBe('TELL SPAMC/1.5\r\nContent-length: 5\r\nMessage-class: spam\r\nSet: local\r\n\r\n');
    expect(requestHead('TELL', 5, undefined, 'ham').toString()).toContain('Message-class: ham\r\n');
    expect(() => requestHead('TELL', 5)).toThrow(TypeError);
    // spamd 4.0 answers a TELL with the status line, its Did* headers and two blank lines
    expect(didLearn(parseReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nDidSet: local\r\n\r\n\r\n')))).toBe(true);
    expect(didLearn(parseReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nDidSet: remote,local\r\n\r\n\r\n')))).toBe(true);
    expect(didLearn(parseReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\n\r\n\r\n')))).toBe(false);
    expect(didLearn(parseReply(Buffer.from('SPAMD/1.1 0 EX_OK\r\nDidRemove: local\r\n\r\n\r\n')))).toBe(false);
  });
});
