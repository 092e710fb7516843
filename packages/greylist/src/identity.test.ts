import { describe, expect, it } from 'vitest';
import type { DnsResult, SpfDns } from './dns.ts';
import { isGenericHostname, organisationalDomain, senderIdentity } from './identity.ts';

const none = async (): Promise<DnsResult<string[]>> => ({ status: 'none' });
const dns: SpfDns = {
  txt: async (n) => (n === 'pool.example' ? { status: 'ok', data: ['v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all'] } : { status: 'none' }),
  a: none,
  aaaa: none,
  mx: none,
};
const opts = { v4Prefix: 24, v6Prefix: 64, dns, spfTimeoutMs: 500 };

describe('senderIdentity', () => {
  it('an SPF-authorised client gets the sender domain pool, whichever /24 it is in', async () => {
    const a = await senderIdentity({ clientAddress: '192.0.2.5', sender: 'x@pool.example' }, opts);
    const b = await senderIdentity({ clientAddress: '198.51.100.200', sender: 'x@pool.example' }, opts);
    expect(a.id).toBe('spf:pool.example');
    expect(b.id).toBe(a.id);
    expect(b.network).toBe('198.51.100.0/24');
  });

  it('falls back to the FCrDNS organisational domain, then the network', async () => {
    const p = await senderIdentity({ clientAddress: '203.0.113.9', clientName: 'out-3.mailer.example.co.uk', sender: 'x@pool.example' }, opts);
    expect(p.id).toBe('ptr:example.co.uk');
    const n = await senderIdentity({ clientAddress: '203.0.113.9', sender: 'x@pool.example' }, opts);
    expect(n.id).toBe('net:203.0.113.0/24');
    const g = await senderIdentity({ clientAddress: '203.0.113.9', clientName: '203-0-113-9.dyn.isp.example', sender: '' }, opts);
    expect(g.id).toBe('net:203.0.113.0/24');
  });

  it('one client name, two addresses: generic for the address it spells only (the per-name memo keeps the address apart)', async () => {
    const name = 'host9.113.0.203.mailer.example.net';
    for (let i = 0; i < 2; i++) {
      expect((await senderIdentity({ clientAddress: '203.0.113.9', clientName: name, sender: '' }, opts)).id).toBe('net:203.0.113.0/24');
      expect((await senderIdentity({ clientAddress: '192.0.2.1', clientName: name, sender: '' }, opts)).id).toBe('ptr:example.net');
      expect((await senderIdentity({ clientAddress: '203.0.113.9', clientName: 'cpe-CB007109.isp.example', sender: '' }, opts)).id).toBe('net:203.0.113.0/24');
      expect((await senderIdentity({ clientAddress: '192.0.2.1', clientName: 'cpe-CB007109.isp.example.', sender: '' }, opts)).id).toBe('ptr:isp.example');
      expect((await senderIdentity({ clientAddress: '192.0.2.1', clientName: 'Unknown', sender: '' }, opts)).id).toBe('net:192.0.2.0/24');
    }
  });

  it('a slow SPF lookup falls back within its budget', async () => {
    const slow: SpfDns = { ...dns, txt: () => new Promise((r) => setTimeout(() => r({ status: 'none' }), 2000)) };
    const t0 = Date.now();
    const id = await senderIdentity({ clientAddress: '192.0.2.5', sender: 'x@pool.example' }, { ...opts, dns: slow, spfTimeoutMs: 50 });
    expect(id.kind).toBe('net');
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe('hostname helpers', () => {
  it('generic access-network names', () => {
    expect(isGenericHostname('203-0-113-9.dyn.isp.example', '203.0.113.9')).toBe(true);
    expect(isGenericHostname('host9.113.0.203.static.example', '203.0.113.9')).toBe(true);
    expect(isGenericHostname('cpe-cb007109.isp.example', '203.0.113.9')).toBe(true);
    expect(isGenericHostname('mail-ej1-f41.google.com', '209.85.218.41')).toBe(false);
    expect(isGenericHostname('smtp.example.com', '203.0.113.9')).toBe(false);
  });
  it('organisational domains', () => {
    expect(organisationalDomain('a.b.example.co.uk')).toBe('example.co.uk');
    expect(organisationalDomain('mail-sor-f41.google.com')).toBe('google.com');
    expect(organisationalDomain('co.uk')).toBeUndefined();
  });
});
