import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NextHopError, parseNextHop } from './next-hop.ts';

describe('parseNextHop', () => {
  it('smtp forms (transport(5))', () => {
    expect(parseNextHop('smtp:[mail.example]:2525')).toEqual({ transport: 'smtp', host: 'mail.example', port: 2525, mx: false, raw: 'smtp:[mail.example]:2525', dest: '[mail.example]:2525' });
    expect(parseNextHop('smtp:[192.0.2.1]')).toMatchObject({ host: '192.0.2.1', port: 25, mx: false });
    expect(parseNextHop('smtp:[ipv6:2001:db8::1]:26')).toMatchObject({ host: '2001:db8::1', port: 26, mx: false });
    expect(parseNextHop('smtp:example.com')).toMatchObject({ host: 'example.com', port: 25, mx: true });
    expect(parseNextHop('smtp:example.com:587')).toMatchObject({ host: 'example.com', port: 587, mx: true });
    expect(parseNextHop('smtp:example.com:submission')).toMatchObject({ port: 587 });
    expect(parseNextHop('smtp:')).toMatchObject({ transport: 'smtp', host: undefined, port: 25, mx: true });
    expect(parseNextHop('smtp')).toMatchObject({ transport: 'smtp', host: undefined, mx: true });
    expect(parseNextHop('relay:[primary.example]')).toMatchObject({ transport: 'smtp', host: 'primary.example', mx: false, raw: 'relay:[primary.example]' });
  });
  it('dest: the destination verbatim (the TLS policy key), the default port kept as written', () => {
    const dest = (t: string) => (parseNextHop(t) as { dest?: string }).dest;
    expect(dest('smtp:[relay.example]:25')).toBe('[relay.example]:25');
    expect(dest('smtp:[relay.example]')).toBe('[relay.example]');
    expect(dest('relay:[Relay.Example]:587')).toBe('[Relay.Example]:587');
    expect(dest('lmtp:inet:mail.example:24')).toBe('mail.example:24');
    expect(dest('lmtp:[mail.example]:2424')).toBe('[mail.example]:2424');
    expect(dest('lmtp:mail.example')).toBe('mail.example');
    expect(dest('lmtp:unix:/run/lmtp')).toBeUndefined();
    expect(dest('smtp://relay.example:25')).toBe('[relay.example]:25');
  });
  it('lmtp forms', () => {
    expect(parseNextHop('lmtp:unix:/var/run/dovecot/lmtp')).toEqual({ transport: 'lmtp', socket: { path: '/var/run/dovecot/lmtp' }, raw: 'lmtp:unix:/var/run/dovecot/lmtp' });
    expect(parseNextHop('lmtp:inet:127.0.0.1:24')).toMatchObject({ socket: { host: '127.0.0.1', port: 24 } });
    expect(parseNextHop('lmtp:localhost:2003')).toMatchObject({ socket: { host: 'localhost', port: 2003 } });
    expect(parseNextHop('lmtp:[::1]:24')).toMatchObject({ socket: { host: '::1', port: 24 } });
    expect(parseNextHop('lmtp:dovecot')).toMatchObject({ socket: { host: 'dovecot', port: 24 } });
  });
  it('maildir, error, discard', () => {
    expect(parseNextHop('maildir:/var/mail/moat')).toEqual({ transport: 'maildir', path: '/var/mail/moat', raw: 'maildir:/var/mail/moat' });
    expect(parseNextHop('error:5.1.1 No such user here')).toMatchObject({ transport: 'error', status: '5.1.1', text: 'No such user here' });
    expect(parseNextHop('error:4.7.1 try later')).toMatchObject({ status: '4.7.1', text: 'try later' });
    expect(parseNextHop('error:mailbox closed')).toEqual({ transport: 'error', text: 'mailbox closed', raw: 'error:mailbox closed' });
    expect(parseNextHop('error:')).toEqual({ transport: 'error', text: 'Address is undeliverable', raw: 'error:' });
    expect(parseNextHop('retry:4.3.0 disk full')).toEqual({ transport: 'retry', status: '4.3.0', text: 'disk full', raw: 'retry:4.3.0 disk full' });
    expect(parseNextHop('retry:')).toEqual({ transport: 'retry', text: 'Address is undeliverable', raw: 'retry:' });
    // the status kept as written, whatever its class (Postfix's dsn_split takes 2, 4 and 5); only a status: the default text
    expect(parseNextHop('error:2.0.0 all fine')).toMatchObject({ status: '2.0.0', text: 'all fine' });
    expect(parseNextHop('error:5.1.1')).toMatchObject({ status: '5.1.1', text: 'Address is undeliverable' });
    expect(parseNextHop('error:5.1.1x no status')).toEqual({ transport: 'error', text: '5.1.1x no status', raw: 'error:5.1.1x no status' });
    expect(parseNextHop('error:3.0.0 not a class')).not.toHaveProperty('status');
    expect(parseNextHop('discard:')).toEqual({ transport: 'discard', text: '', raw: 'discard:' });
    expect(parseNextHop('discard:spam trap')).toMatchObject({ text: 'spam trap' });
  });
  it("moat's legacy queue.transport forms", () => {
    expect(parseNextHop('smtp://primary.example:25')).toMatchObject({ transport: 'smtp', host: 'primary.example', port: 25, mx: false });
    expect(parseNextHop('lmtp://127.0.0.1:24')).toMatchObject({ transport: 'lmtp', socket: { host: '127.0.0.1', port: 24 } });
    expect(parseNextHop('smtp://[::1]:2525')).toMatchObject({ host: '::1', port: 2525 });
  });
  it('bad text: an error naming the problem', () => {
    const bad: Array<[string, RegExp]> = [
      ['uucp:host', /unknown transport "uucp"/],
      [':[host]', /no transport name/],
      ['maildir:relative/path', /absolute path/],
      ['smtp:[host', /unclosed \[/],
      ['smtp:host:99999', /not a port/],
      ['smtp:host:abc', /not a port/],
      ['smtp:2001:db8::1', /IPv6 address must be written in brackets/],
      ['smtp:a.example,b.example', /several next hops/],
      ['smtp:bad_host!', /not a host name/],
      ['lmtp:', /needs a destination/],
      ['local:', /local\(8\) is not part of moat/],
      ['smtp://host', /needs a port/],
    ];
    for (const [text, re] of bad) {
      expect(() => parseNextHop(text), text).toThrow(NextHopError);
      expect(() => parseNextHop(text), text).toThrow(re);
    }
  });
  it('never throws anything but NextHopError (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          parseNextHop(s);
        } catch (e) {
          expect(e).toBeInstanceOf(NextHopError);
        }
      }),
      { numRuns: 2000 },
    );
  });
  it('smtp:[host]:port round-trips (property)', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 65535 }), fc.boolean(), (labels, port, bracket) => {
        const host = labels.join('.');
        const h = parseNextHop(bracket ? `smtp:[${host}]:${port}` : `smtp:${host}:${port}`);
        expect(h).toMatchObject({ transport: 'smtp', host, port, mx: !bracket });
      }),
    );
  });
});
