import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { heloSyntaxProblem, hostileRecipientForm, isFqdn, isPlainMailbox, isRfc5321Mailbox, isStrictEnvelope, isValidHostname, parseAddressLiteral, splitAddress } from './address.ts';

/** The straightforward definition the character loop must agree with. */
function referenceValidHostname(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 255) return false;
  const labels = n.split('.');
  if (!labels.every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l))) return false;
  return !labels.every((l) => /^\d+$/.test(l));
}

const hostChars = fc.constantFrom(...'aZ09-_.x.'.split(''), '!', ' ', 'é');
const hostish = fc.array(hostChars, { maxLength: 20 }).map((a) => a.join(''));
const localChars = fc.constantFrom(...'ab.+-%!"@:,[] '.split(''));
const addressish = fc.tuple(fc.array(localChars, { maxLength: 10 }), fc.constantFrom('@', '@@', ''), fc.array(hostChars, { maxLength: 12 })).map(([l, at, d]) => `${l.join('')}${at}${d.join('')}`);

describe('hostnames', () => {
  it('examples', () => {
    expect(isValidHostname('mail.example.com')).toBe(true);
    expect(isValidHostname('localhost')).toBe(true);
    expect(isValidHostname('under_score.example.')).toBe(true);
    expect(isValidHostname('1.2.3.4')).toBe(false);
    expect(isValidHostname('a-.example')).toBe(false);
    expect(isValidHostname(`${'a'.repeat(64)}.example`)).toBe(false);
    expect(isFqdn('localhost')).toBe(false);
    expect(isFqdn('host.123')).toBe(false);
    expect(isFqdn('host.example.')).toBe(true);
    expect(heloSyntaxProblem('[192.0.2.1]')).toBeUndefined();
    expect(heloSyntaxProblem('[IPv6:::1]')).toBeUndefined();
    expect(heloSyntaxProblem('[::1]')).toBe('literal');
    expect(parseAddressLiteral('[IPv6:2001:db8::1]')).toBe('2001:db8::1');
  });

  it('property: the character loop agrees with the regex definition', () => {
    fc.assert(
      fc.property(hostish, (h) => {
        expect(isValidHostname(h)).toBe(referenceValidHostname(h));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('addresses', () => {
  it('splits at the last @ outside quotes', () => {
    expect(splitAddress('"a@b"@c.example')).toEqual({ local: '"a@b"', domain: 'c.example' });
    expect(splitAddress('a@b@c')).toEqual({ local: 'a@b', domain: 'c' });
    expect(splitAddress('postmaster')).toEqual({ local: 'postmaster', domain: '' });
  });

  it('strict envelopes', () => {
    for (const ok of ['<a@b.example>', '<>', '<"a b"@b.example>', '<a@[192.0.2.1]>', '<@relay.example:a@b.example>', ' <a@b.example> ']) expect(isStrictEnvelope(ok, true), ok).toBe(true);
    for (const bad of ['a@b.example', '<a@b.example', '<a b@b.example>', '<a@@b.example>', '<a@b.example> junk', '<a..b@b.example>', '<.a@b.example>', '<@bad:a@b.example>']) expect(isStrictEnvelope(bad, true), bad).toBe(false);
    expect(isStrictEnvelope('<>', false)).toBe(false);
    expect(isStrictEnvelope('<Postmaster>', false)).toBe(true);
  });

  it('property: the plain-mailbox fast path never lets a hostile or malformed form through', () => {
    fc.assert(
      fc.property(addressish, (a) => {
        if (!isPlainMailbox(a)) return;
        const at = a.lastIndexOf('@');
        const local = a.slice(0, at);
        expect(/[%!"@:,[\] ]/.test(local), a).toBe(false);
        expect(isValidHostname(a.slice(at + 1))).toBe(true);
        expect(hostileRecipientForm(a)).toBeUndefined();
        expect(isRfc5321Mailbox(a)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('property: any recipient with %, ! or a route outside quotes is hostile', () => {
    fc.assert(
      fc.property(addressish, (a) => {
        const { local, domain } = splitAddress(a);
        if (!local.startsWith('"') && /[%!:,]/.test(local) && domain !== '') expect(hostileRecipientForm(a), a).toBeDefined();
        if (a.startsWith('@')) expect(hostileRecipientForm(a)).toBe('source-route');
      }),
      { numRuns: 5000 },
    );
  });
});

describe('SMTPUTF8 (RFC 6531)', () => {
  it('accepts UTF-8 local parts and U-label domains, still refuses hostile forms', () => {
    expect(hostileRecipientForm('jürgen@example.org')).toBeUndefined();
    expect(hostileRecipientForm('用户@例子.广告')).toBeUndefined();
    expect(hostileRecipientForm('jürgen%remote.example@example.org')).toBe('percent-hack');
    expect(hostileRecipientForm('jürgen@exa mple.org')).toBe('bad-syntax');
    expect(isStrictEnvelope('<jürgen@bücher.example>', true)).toBe(true);
  });
});
