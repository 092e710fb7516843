import { describe, expect, it } from 'vitest';
import { expandIPv6, normaliseDomain, probeName, queryName, reverseIPv6 } from './query-name.ts';

describe('query names', () => {
  it('reverses IPv4 octets', () => {
    expect(queryName('zen.example', 'client', '192.0.2.10')).toEqual({ ok: true, name: '10.2.0.192.zen.example' });
  });
  it('IPv6 nibbles per RFC 5782', () => {
    expect(reverseIPv6('2001:db8:1:2:3:4:567:89ab')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
    expect(probeName('z.example', '::FFFF:7F00:2')).toBe('2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.z.example');
    expect(expandIPv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(expandIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(expandIPv6('::ffff:192.0.2.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x201]);
    expect(expandIPv6('fe80::1%eth0')).toBeUndefined();
  });
  it('looks IPv4-mapped client addresses up as IPv4', () => {
    expect(queryName('zen.example', 'client', '::ffff:192.0.2.1')).toEqual({ ok: true, name: '1.2.0.192.zen.example' });
  });
  it('refuses non-IP clients', () => {
    expect(queryName('zen.example', 'client', 'mail.example').ok).toBe(false);
  });
  it('normalises domains and refuses literals, IPs and junk', () => {
    expect(queryName('dbl.example', 'helo', 'Mail.Example.COM.')).toEqual({ ok: true, name: 'mail.example.com.dbl.example' });
    expect(queryName('dbl.example', 'sender-domain', 'user@Spam.Example')).toEqual({ ok: true, name: 'spam.example.dbl.example' });
    expect(normaliseDomain('[192.0.2.1]').ok).toBe(false);
    expect(normaliseDomain('192.0.2.1').ok).toBe(false);
    expect(normaliseDomain('bad name.example').ok).toBe(false);
    expect(normaliseDomain('a..b').ok).toBe(false);
    expect(normaliseDomain('x\r\n.example').ok).toBe(false);
    expect(normaliseDomain(`${'a'.repeat(64)}.example`).ok).toBe(false);
  });
});
