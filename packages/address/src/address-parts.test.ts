import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteLocal, splitAddress, splitExtension, unquoteLocal } from './address-parts.ts';

describe('address parts', () => {
  it('splits at the last @, unquotes, lower-cases the domain and drops one trailing dot', () => {
    expect(splitAddress('Alice@Example.ORG.')).toEqual({ local: 'Alice', domain: 'example.org', hasDomain: true });
    expect(splitAddress('"a@b"@example.org')).toEqual({ local: 'a@b', domain: 'example.org', hasDomain: true });
    expect(splitAddress('<x@y>')).toMatchObject({ local: 'x', domain: 'y' });
    expect(splitAddress('root')).toEqual({ local: 'root', domain: '', hasDomain: false });
    expect(splitAddress('x@example..')).toMatchObject({ domain: 'example..' });
  });
  it('quotes only what is not a dot-atom', () => {
    expect(quoteLocal('a.b+c')).toBe('a.b+c');
    expect(quoteLocal('john doe')).toBe('"john doe"');
    expect(quoteLocal('a"b')).toBe('"a\\"b"');
    expect(quoteLocal('.a')).toBe('".a"');
    expect(unquoteLocal('"a\\"b"')).toBe('a"b');
  });
  it('quote and unquote round-trip (property)', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 20 }), (s) => {
        expect(unquoteLocal(quoteLocal(s))).toBe(s);
      }),
    );
  });
  it('split_addr: first delimiter, special names unsplit', () => {
    expect(splitExtension('user+tag', '+')).toEqual({ user: 'user', extension: 'tag', delimiter: '+' });
    expect(splitExtension('user-a+b', '+-')).toEqual({ user: 'user', extension: 'a+b', delimiter: '-' });
    expect(splitExtension('+user', '+')).toBeUndefined();
    expect(splitExtension('user', '+')).toBeUndefined();
    expect(splitExtension('user+tag', '')).toBeUndefined();
    expect(splitExtension('Postmaster', '+')).toBeUndefined();
    expect(splitExtension('MAILER-DAEMON', '-')).toBeUndefined();
    expect(splitExtension('owner-list', '-')).toBeUndefined();
    expect(splitExtension('list-request', '-')).toBeUndefined();
    expect(splitExtension('owner-list', '+')).toBeUndefined();
    expect(splitExtension('list-request', '+-')).toBeUndefined();
  });
  it('the user part is the prefix and never empty (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.constantFrom('+', '+-', '-', '+=_'), (local, delims) => {
        const e = splitExtension(local, delims);
        if (e) {
          expect(e.user.length).toBeGreaterThan(0);
          expect(`${e.user}${e.delimiter}${e.extension}`).toBe(local);
          for (const ch of e.user) expect(delims.includes(ch)).toBe(false);
        }
      }),
    );
  });
});
