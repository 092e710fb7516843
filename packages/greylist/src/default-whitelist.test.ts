import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { defaultWhitelist } from './default-whitelist.ts';
import { Whitelist } from './whitelist.ts';

interface Net {
  entry: string;
  v: 4 | 6;
  base: bigint;
  prefix: number;
}

function addressBits(address: string, v: 4 | 6): bigint {
  if (v === 4) return address.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n);
  const [head = '', tail] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function net(entry: string): Net {
  const [address = '', len] = entry.split('/');
  const v = isIP(address);
  if (v !== 4 && v !== 6) throw new Error(`not an address: ${entry}`);
  const width = v === 4 ? 32 : 128;
  const prefix = len === undefined ? width : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) throw new Error(`bad prefix: ${entry}`);
  const bits = addressBits(address, v);
  const host = (1n << BigInt(width - prefix)) - 1n;
  if ((bits & host) !== 0n) throw new Error(`host bits set: ${entry}`);
  return { entry, v, base: bits, prefix };
}

/** True if the two networks share any address. */
function overlaps(a: Net, b: Net): boolean {
  if (a.v !== b.v) return false;
  const width = a.v === 4 ? 32 : 128;
  const p = Math.min(a.prefix, b.prefix);
  const shift = BigInt(width - p);
  return a.base >> shift === b.base >> shift;
}

// IANA special-purpose registries (RFC 6890 and successors): private, loopback, link-local,
// documentation, benchmarking, shared address space, multicast, reserved.
const SPECIAL = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  '::ffff:0:0/96',
  '64:ff9b::/96',
  '100::/64',
  '2001::/23',
  '2001:db8::/32',
  '2002::/16',
  '3fff::/20',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
].map(net);

const clients = defaultWhitelist.clients ?? [];
const names = defaultWhitelist.clientNames ?? [];

describe('defaultWhitelist', () => {
  it('every entry parses, in this test and in the Whitelist itself', () => {
    expect(new Whitelist(defaultWhitelist).rejected).toEqual([]);
    for (const c of clients) expect(() => net(c), c).not.toThrow();
    for (const n of names) expect(n, n).toMatch(/^\*\.[a-z0-9-]+(\.[a-z0-9-]+)+$/);
  });

  it('holds no private, loopback, link-local, documentation or other special-purpose range', () => {
    const hits = clients.map(net).flatMap((c) => SPECIAL.filter((s) => overlaps(c, s)).map((s) => `${c.entry} ~ ${s.entry}`));
    expect(hits).toEqual([]);
  });

  it('has no duplicate names and no CIDR inside another', () => {
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    const nets = clients.map(net);
    const pairs: string[] = [];
    nets.forEach((a, i) => {
      for (const b of nets.slice(i + 1)) if (overlaps(a, b)) pairs.push(`${a.entry} ~ ${b.entry}`);
    });
    expect(pairs).toEqual([]);
  });

  it('still matches the providers it lists', () => {
    const d = new Whitelist(defaultWhitelist);
    const q = (clientAddress: string) => d.match({ clientAddress, recipient: 'alice@example.net' })?.kind;
    expect(q('52.103.1.1')).toBe('client'); // Exchange Online, spf.protection.outlook.com
    expect(q('2a01:111:f403:c10c::1')).toBe('client');
    expect(q('206.55.150.1')).toBe('client'); // SES 206.55.144.0/20
    expect(q('69.171.232.10')).toBe('client'); // facebookmail.com
    expect(q('57.103.70.1')).toBe('client'); // icloud.com
    expect(q('185.70.43.17')).toBe('client'); // Proton
    expect(q('148.105.1.1')).toBeUndefined(); // outside servers.mcsv.net's 148.105.8.0/21
  });
});
