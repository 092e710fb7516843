import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainAddressAt, quoteLocal, splitAddress, splitExtension, unquoteLocal } from './address-parts.ts';

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

describe('plainAddressAt', () => {
  it('finds the @ only when splitAddress would give the address back unchanged', () => {
    for (const a of ['user@example.org', 'a.b+tag@x.example', 'u_1=2-3@[192.0.2.1]']) {
      expect(plainAddressAt(a)).toBe(a.lastIndexOf('@'));
      const p = splitAddress(a);
      expect(`${p.local}@${p.domain}`).toBe(a);
    }
    for (const a of ['User@Example.org', 'u@example.org.', '"a b"@x.example', '<u@x.example>', '@x.example', 'u@', 'u', '.u@x.example', 'u..v@x.example', 'u@exämple.org', 'u!x@x.example']) {
      expect(plainAddressAt(a)).toBe(-1);
    }
  });
  it('property: a plain address splits into itself, local part external', () => {
    const chars = fc.constantFrom(...'aZ09.+-_=@"<> [].\u00e9'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 20 }).map((a) => a.join('')), (a) => {
        const at = plainAddressAt(a);
        if (at < 0) return;
        const p = splitAddress(a);
        expect(`${p.local}@${p.domain}`).toBe(a);
        expect(quoteLocal(p.local)).toBe(p.local);
        expect(p.hasDomain && p.domain !== '' && p.local !== '').toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
