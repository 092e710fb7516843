import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CidrSet, canonicalAddress, clientNetwork, ipv4Number, parseCidr } from './network.ts';

describe('clientNetwork', () => {
  it.each([
    ['192.0.2.77', 24, 64, '192.0.2.0/24'],
    ['192.0.2.77', 16, 64, '192.0.0.0/16'],
    ['192.0.2.77', 32, 64, '192.0.2.77/32'],
    ['::ffff:198.51.100.9', 24, 64, '198.51.100.0/24'],
    ['2001:db8:1:2:3:4:5:6', 24, 64, '2001:db8:1:2::/64'],
    ['2001:DB8::1', 24, 48, '2001:db8::/48'],
    ['2001:db8:abcd:12ff::1', 24, 56, '2001:db8:abcd:1200::/56'],
    ['[2001:db8::5]', 24, 64, '2001:db8::/64'],
  ])('%s v4/%i v6/%i -> %s', (ip, v4, v6, want) => {
    expect(clientNetwork(ip, v4, v6)).toBe(want);
  });

  it('refuses non-addresses', () => {
    expect(clientNetwork('unknown')).toBeUndefined();
    expect(clientNetwork('999.1.1.1')).toBeUndefined();
    expect(canonicalAddress('')).toBeUndefined();
  });
});

describe('CidrSet', () => {
  it('matches v4, v6 and mapped addresses, and reports bad entries', () => {
    const s = new CidrSet();
    expect(s.add(['192.0.2.0/24', '2001:db8::/32', '203.0.113.5', 'nonsense', '10.0.0.0/33'])).toEqual(['nonsense', '10.0.0.0/33']);
    expect(s.has('192.0.2.200')).toBe(true);
    expect(s.has('::ffff:192.0.2.1')).toBe(true);
    expect(s.has('192.0.3.1')).toBe(false);
    expect(s.has('2001:db8:ffff::1')).toBe(true);
    expect(s.has('2001:db9::1')).toBe(false);
    expect(s.has('203.0.113.5')).toBe(true);
    expect(s.has('203.0.113.6')).toBe(false);
    expect(parseCidr('2001:db8::/129')).toBeUndefined();
  });

  it('matches every IPv4 prefix length at its edges, like BlockList', () => {
    for (const prefix of [0, 1, 8, 15, 16, 23, 24, 31, 32]) {
      const s = new CidrSet();
      s.add([`203.0.113.77/${prefix}`]);
      const block = new BlockList();
      block.addSubnet('203.0.113.77', prefix, 'ipv4');
      for (const probe of ['203.0.113.77', '203.0.113.76', '203.0.113.0', '203.0.113.255', '203.0.112.255', '203.1.0.0', '202.255.255.255', '0.0.0.0', '255.255.255.255', '128.0.0.0', '127.255.255.255']) {
        expect(s.has(probe), `${probe} in /${prefix}`).toBe(block.check(probe, 'ipv4'));
      }
    }
  });

  it('reads only plain dotted quads as IPv4 numbers', () => {
    expect(ipv4Number('192.0.2.1')).toBe(0xc0000201);
    expect(ipv4Number('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4Number('0.0.0.0')).toBe(0);
    for (const bad of ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4a', '::1', '']) {
      expect(ipv4Number(bad), bad).toBe(-1);
    }
  });
});
