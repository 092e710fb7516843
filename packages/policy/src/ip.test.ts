import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, formatIp, maskIp, parseCidr, parseIp, unmapIPv4 } from './ip.ts';

describe('ip', () => {
  it('parses and canonicalises v4, v6 and v4-mapped addresses', () => {
    expect(formatIp(parseIp('192.0.2.1')!)).toBe('192.0.2.1');
    expect(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('::ffff:192.0.2.1')!)).toBe('192.0.2.1');
    expect(formatIp(parseIp('::1')!)).toBe('::1');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('1:0:0:1:0:0:0:1')!)).toBe('1:0:0:1::1');
    for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', 'unknown', '[::1]', '1.2.3.4/32']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('parses Postfix networks and matches them', () => {
    const n = parseCidr('192.0.2.0/24')!;
    expect(cidrContains(n, parseIp('192.0.2.200')!)).toBe(true);
    expect(cidrContains(n, parseIp('192.0.3.1')!)).toBe(false);
    expect(cidrContains(n, parseIp('::ffff:192.0.2.9')!)).toBe(true);
    const v6 = parseCidr('[2001:db8::]/32')!;
    expect(cidrContains(v6, parseIp('2001:db8:ffff::1')!)).toBe(true);
    expect(cidrContains(v6, parseIp('2001:db9::1')!)).toBe(false);
    expect(cidrContains(parseCidr('10.0.0.0/9')!, parseIp('10.127.0.1')!)).toBe(true);
    expect(cidrContains(parseCidr('10.0.0.0/9')!, parseIp('10.128.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('2001:db8::1')!)).toBe(false); // v4 /0 is all of v4 only
    expect(cidrContains(parseCidr('::/0')!, parseIp('192.0.2.1')!)).toBe(true);
    expect(parseCidr('192.0.2.1')?.bits).toBe(128);
    for (const bad of ['192.0.2.1/24', '192.0.2.0/33', '2001:db8::/129', '[::ffff:]/104', 'x/8', '10.0.0.0/']) expect(parseCidr(bad), bad).toBeUndefined();
  });

  it('property: an address is in every prefix of itself, and v4 text round-trips', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, len) => {
        const a = parseIp(ip)!;
        expect(formatIp(a)).toBe(ip);
        // build the network by zeroing host bits
        const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
        const net = len === 0 ? 0 : (n - (n % 2 ** (32 - len))) >>> 0;
        const text = [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.');
        expect(cidrContains(parseCidr(`${text}/${len}`)!, a)).toBe(true);
      }),
    );
  });

  it('property: every IPv6 text fast-check makes parses, and canonical text is stable', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const a = parseIp(ip);
        expect(a, ip).toBeDefined();
        const c = formatIp(a!);
        expect(formatIp(parseIp(c)!)).toBe(c);
      }),
    );
  });
});

describe('unmapIPv4', () => {
  it('turns an IPv4-mapped literal into its dotted quad and leaves anything else', () => {
    expect(unmapIPv4('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(unmapIPv4('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(unmapIPv4('192.0.2.1')).toBe('192.0.2.1');
    expect(unmapIPv4('::ffff:c000:201')).toBe('::ffff:c000:201');
    expect(unmapIPv4('2001:db8::1')).toBe('2001:db8::1');
    expect(unmapIPv4('')).toBe('');
  });
});

describe('maskIp', () => {
  it('clears the bits past the prefix of the address family', () => {
    const net = (a: string, p: number) => formatIp(maskIp(parseIp(a)!, p));
    expect(net('192.0.2.77', 24)).toBe('192.0.2.0');
    expect(net('::ffff:192.0.2.77', 20)).toBe('192.0.0.0');
    expect(net('192.0.2.77', 32)).toBe('192.0.2.77');
    expect(net('192.0.2.77', 0)).toBe('0.0.0.0');
    expect(net('2001:db8:1:2:3:4:5:6', 64)).toBe('2001:db8:1:2::');
    expect(net('2001:db8:1:2:3:f4ab:5:6', 84)).toBe('2001:db8:1:2:3:f000::');
    expect(net('2001:db8::1', 128)).toBe('2001:db8::1');
  });
  it('property: the masked address lies in the prefix it names, and masking twice changes nothing', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (text, p) => {
        const a = parseIp(text)!;
        const m = maskIp(a, a.v4 ? Math.min(p, 32) : p);
        const cidr = parseCidr(`${formatIp(m)}/${a.v4 ? Math.min(p, 32) : p}`)!;
        expect(cidrContains(cidr, a)).toBe(true);
        expect(maskIp(m, a.v4 ? Math.min(p, 32) : p)).toEqual(m);
      }),
    );
  });
});
