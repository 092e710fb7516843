import { describe, expect, it } from 'vitest';
import { isLocalAddress, parseResolver } from './server-address.ts';

describe('resolver addresses', () => {
  it('IP, IP:port, [v6]:port; host names refused', () => {
    expect(parseResolver('127.0.0.1:5353').server).toBe('127.0.0.1:5353');
    expect(parseResolver('10.0.0.2').server).toBe('10.0.0.2:53');
    expect(parseResolver('[::1]:53').server).toBe('[::1]:53');
    expect(parseResolver('::1').server).toBe('[::1]:53');
    expect(() => parseResolver('unbound:53')).toThrow();
    expect(() => parseResolver('127.0.0.1:0')).toThrow(/port/);
  });

  it('local: loopback, RFC 1918, ULA, link-local, and their IPv4-mapped forms', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.5', '192.168.1.1', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) expect(isLocalAddress(ip), ip).toBe(true);
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8', 'unbound']) expect(isLocalAddress(ip), ip).toBe(false);
  });
});
