import { describe, expect, it } from 'vitest';
import { defaultNetworks, type Interface, parseNetworks } from './mynetworks.ts';

const IFACES: Interface[] = [
  { address: '127.0.0.1', prefix: 8, family: 'IPv4' },
  { address: '192.0.2.2', prefix: 24, family: 'IPv4' },
  { address: '172.20.1.9', prefix: 24, family: 'IPv4' },
  { address: '::1', prefix: 128, family: 'IPv6' },
  { address: 'fd00::2', prefix: 64, family: 'IPv6' },
];
const noFile = (p: string): string => {
  throw Object.assign(new Error(p), { code: 'ENOENT' });
};

describe('mynetworks', () => {
  it('reads Postfix forms: addr, addr/len, [v6], [v6]/len, commas', () => {
    expect(parseNetworks('127.0.0.0/8, 192.0.2.7 [::1]/128 [2001:db8::] 2001:db8:1::/48', 'all', noFile)).toEqual({
      networks: ['127.0.0.0/8', '192.0.2.7/32', '[::1]/128', '[2001:db8::]/128', '[2001:db8:1::]/48'],
      problems: [],
    });
  });
  it('reads /file/name patterns (with # comments)', () => {
    const r = parseNetworks('/etc/postfix/nets 10.0.0.0/8', 'all', () => '# ours\n192.0.2.0/24\n198.51.100.0/24, [::1]/128\n');
    expect(r.networks).toEqual(['192.0.2.0/24', '198.51.100.0/24', '[::1]/128', '10.0.0.0/8']);
  });
  it('drops an invalid IPv6 pattern Postfix never evaluates (inet_protocols = ipv4), with a warning; refuses it otherwise', () => {
    expect(parseNetworks('[::ffff:]/104', 'ipv4', noFile).problems).toEqual([expect.objectContaining({ item: '[::ffff:]/104', harmless: true })]);
    expect(parseNetworks('[::ffff:]/104', 'all', noFile).problems[0]?.harmless).toBe(false);
  });
  it('refuses tables, exclusions, host names and host bits', () => {
    const r = parseNetworks('hash:/etc/postfix/nets !192.0.2.1 backup.example.org 192.0.2.1/24', 'all', noFile);
    expect(r.networks).toEqual([]);
    expect(r.problems.map((p) => p.harmless)).toEqual([false, false, false, false]);
  });
  it('derives the default from mynetworks_style and inet_protocols', () => {
    expect(defaultNetworks('subnet', 'all', IFACES)).toEqual({ networks: ['127.0.0.0/8', '192.0.2.0/24', '172.20.1.0/24', '[::1]/128', '[fd00::]/64'], problems: [] });
    expect(defaultNetworks('host', 'ipv4', IFACES)).toEqual({ networks: ['127.0.0.1/32', '192.0.2.2/32', '172.20.1.9/32'], problems: [] });
    expect(defaultNetworks('class', 'ipv4', IFACES)).toEqual({ networks: ['127.0.0.0/8', '192.0.2.0/24', '172.20.0.0/16'], problems: [] });
    expect(defaultNetworks('bogus', 'all', IFACES)).toMatch(/host, subnet or class/);
  });
});
