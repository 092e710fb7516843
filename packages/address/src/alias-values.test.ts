import { describe, expect, it } from 'vitest';
import { splitAddressList, splitAliasValue, stripComments } from './alias-values.ts';

describe('alias values as tok822_parse reads them', () => {
  it('drops RFC 822 comments, nested and escaped, but not inside quotes or domain literals', () => {
    expect(stripComments('alice (the admin)')).toBe('alice  ');
    expect(stripComments('a (x (y) \\) z) b')).toBe('a   b');
    expect(stripComments('"a (b)"@x, u@[1.2.3.4(5)]')).toBe('"a (b)"@x, u@[1.2.3.4(5)]');
    expect(stripComments('a (unclosed')).toBe('a  ');
  });
  it('aliases(5): comments dropped, missing commas added, <addr> of a phrase, commands whole', () => {
    expect(splitAliasValue('alice (the admin)')).toEqual(['alice']);
    expect(splitAliasValue('carol, (x) dave')).toEqual(['carol', 'dave']);
    expect(splitAliasValue('e(c)f')).toEqual(['e', 'f']);
    expect(splitAliasValue('a@x b@y')).toEqual(['a@x', 'b@y']);
    expect(splitAliasValue('first.last @ example.org')).toEqual(['first.last@example.org']);
    expect(splitAliasValue('Some One <named@remote.example>')).toEqual(['named@remote.example']);
    expect(splitAliasValue('"john doe"@x, jd')).toEqual(['"john doe"@x', 'jd']);
    expect(splitAliasValue('"|/usr/bin/prog arg (x)", /var/log/file, :include:/etc/list')).toEqual(['|/usr/bin/prog arg (x)', '/var/log/file', ':include:/etc/list']);
    expect(splitAliasValue('(only a comment)')).toEqual([]);
  });
  it('aliases(5): a quoted local part inside <...> is the route-addr, not a phrase word', () => {
    expect(splitAliasValue('Some One <"a b"@x>')).toEqual(['"a b"@x']);
    expect(splitAliasValue('"Some <One>" <"a b"@x>, c')).toEqual(['"a b"@x', 'c']);
    expect(splitAliasValue('Some One < a @ x >')).toEqual(['a@x']);
    expect(splitAliasValue('<u@[1.2.3.4]>')).toEqual(['u@[1.2.3.4]']);
    // a `>` inside quotes does not close a route-addr
    expect(splitAliasValue('"x>"')).toEqual(['"x>"']);
  });
  it('aliases(5): tok822 operators %, ! and | join words as the RFC 822 specials do; a comment is a blank', () => {
    expect(splitAliasValue('a ! b')).toEqual(['a!b']);
    expect(splitAliasValue('host ! user % relay')).toEqual(['host!user%relay']);
    expect(splitAliasValue('a | b')).toEqual(['a|b']);
    expect(splitAliasValue('a(x)@b')).toEqual(['a@b']);
    expect(splitAliasValue('a b')).toEqual(['a', 'b']);
  });
  it('virtual(5): comments dropped too (cleanup parses with tok822)', () => {
    expect(splitAddressList('cv1@x (first), (second) cv2@y')).toEqual(['cv1@x', 'cv2@y']);
  });
});
