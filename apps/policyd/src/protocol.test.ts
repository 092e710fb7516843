import { describe, expect, it } from 'vitest';
import { RequestReader } from './protocol.ts';

const req = (lines: string[]) => Buffer.from(`${lines.join('\n')}\n\n`);

describe('RequestReader', () => {
  it('reads name=value lines until the blank line, several per chunk', () => {
    const r = new RequestReader();
    const out = r.push(Buffer.concat([req(['request=smtpd_access_policy', 'recipient=a@b']), req(['x=1'])]));
    expect(out).toEqual([
      { kind: 'request', attrs: { request: 'smtpd_access_policy', recipient: 'a@b' } },
      { kind: 'request', attrs: { x: '1' } },
    ]);
    expect(r.midRequest).toBe(false);
  });

  it('reassembles lines split across chunks, byte by byte', () => {
    const r = new RequestReader();
    const all = req(['request=smtpd_access_policy', 'sender=ü@b.example', 'recipient=']);
    const out = [];
    for (const b of all) out.push(...r.push(Buffer.from([b])));
    expect(out).toEqual([{ kind: 'request', attrs: { request: 'smtpd_access_policy', sender: 'ü@b.example', recipient: '' } }]);
  });

  it('accepts CRLF, keeps = in values, and the last of repeated names', () => {
    const r = new RequestReader();
    const out = r.push(Buffer.from('a=1\r\nb=x=y\r\na=2\r\n\r\n'));
    expect(out).toEqual([{ kind: 'request', attrs: { a: '2', b: 'x=y' } }]);
  });

  it('ignores stray blank lines between requests', () => {
    expect(new RequestReader().push(Buffer.from('\n\n\na=1\n\n'))).toHaveLength(1);
  });

  it('refuses an overlong line before it is complete, and holds at most maxLine bytes', () => {
    const r = new RequestReader({ maxLine: 100 });
    expect(r.push(Buffer.from('a='.padEnd(80, 'x')))).toEqual([]);
    const out = r.push(Buffer.from('x'.repeat(50)));
    expect(out[0]).toMatchObject({ kind: 'error', error: 'line-too-long' });
    expect(r.buffered).toBe(0);
    expect(r.push(Buffer.from('\n\n'))).toEqual([]); // poisoned: the stream is out of step
  });

  it('refuses an overlong line that arrives whole', () => {
    const r = new RequestReader({ maxLine: 10 });
    expect(r.push(Buffer.from('a=0123456789\n'))[0]).toMatchObject({ error: 'line-too-long' });
  });

  it('refuses a request larger than maxRequest made of short lines', () => {
    const r = new RequestReader({ maxRequest: 1000 });
    const out = r.push(Buffer.from('a=123456789\n'.repeat(200)));
    expect(out.at(-1)).toMatchObject({ kind: 'error', error: 'request-too-large' });
  });

  it('refuses too many attributes', () => {
    const r = new RequestReader({ maxAttributes: 5 });
    expect(r.push(Buffer.from('a=1\n'.repeat(6))).at(-1)).toMatchObject({ error: 'too-many-attributes' });
  });

  it('refuses garbage: no =, empty name, odd names, binary', () => {
    for (const bad of ['hello\n', '=x\n', 'a b=c\n', '\u0000\u0001=2\n', 'GET / HTTP/1.0\n']) {
      expect(new RequestReader().push(Buffer.from(bad))[0], bad).toMatchObject({ error: 'malformed-line' });
    }
  });

  it('decodes UTF-8 values among ASCII ones in one chunk, limits counted in bytes', () => {
    const out = new RequestReader().push(Buffer.from('sender=üser@bü.example\nrecipient=a@b\nhelo_name=mx\n\n'));
    expect(out).toEqual([{ kind: 'request', attrs: { sender: 'üser@bü.example', recipient: 'a@b', helo_name: 'mx' } }]);
    // 'a=' + 5 two-byte chars = 12 bytes: over a 10-byte limit though it is 7 characters
    expect(new RequestReader({ maxLine: 10 }).push(Buffer.from('a=ééééé\n'))[0]).toMatchObject({ error: 'line-too-long' });
  });

  it('decodes invalid UTF-8 without throwing', () => {
    const out = new RequestReader().push(Buffer.concat([Buffer.from('a='), Buffer.from([0xff, 0xfe]), Buffer.from('\n\n')]));
    expect(out[0]).toMatchObject({ kind: 'request' });
  });

  it('names of Object.prototype members are plain attributes; __proto__ is dropped, never a prototype', () => {
    const out = new RequestReader().push(Buffer.from('__proto__=x\nconstructor=y\ntoString=z\nrequest=smtpd_access_policy\n\n'));
    expect(out).toHaveLength(1);
    const attrs = (out[0] as { attrs: Record<string, string> }).attrs;
    expect(typeof Object.getPrototypeOf(attrs)).toBe('object');
    expect(Object.hasOwn(attrs, '__proto__')).toBe(false);
    expect(attrs).toEqual({ constructor: 'y', toString: 'z', request: 'smtpd_access_policy' });
    expect(attrs.constructor).toBe('y');
  });
});
