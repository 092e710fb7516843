import { describe, expect, it } from 'vitest';
import { compileConfig } from './compile.ts';
import { ConfigError, formatConfigErrors, parseConfig } from './load.ts';

const KEY = 'Zq7k2VbN4mXw9Ht3Rp6Ls8Dj1F';
const yaml = (zones = '{}') => `policy:
  hostname: mx.example.org
  recipient_restrictions: |
    reject_rbl_client ${KEY}.zen.dq.spamhaus.net=127.0.0.[2..11],
    reject_rhsbl_sender ${KEY}.dbl.dq.spamhaus.net,
    reject_rbl_client bl.example.net,
    permit
recipients:
  domains: [example.org]
dns:
  zones: ${zones}
`;

describe('compileConfig: zoneDisplayNames', () => {
  it('maps every zone the policy queries to its display name (DQS keys dropped)', () => {
    const spec = compileConfig(parseConfig(yaml(), { env: {} })).spec;
    expect(spec.zoneDisplayNames?.[`${KEY.toLowerCase()}.zen.dq.spamhaus.net`]).toBe('zen.dq.spamhaus.net');
    expect(spec.zoneDisplayNames?.[`${KEY.toLowerCase()}.dbl.dq.spamhaus.net`]).toBe('dbl.dq.spamhaus.net');
    expect(spec.zoneDisplayNames?.['bl.example.net']).toBe('bl.example.net');
    expect(Object.values(spec.zoneDisplayNames ?? {}).join(' ').toLowerCase()).not.toContain(KEY.toLowerCase());
  });

  it('takes dns.zones.<zone>.display', () => {
    const spec = compileConfig(parseConfig(yaml('{ bl.example.net: { display: example-list } }'), { env: {} })).spec;
    expect(spec.zoneDisplayNames?.['bl.example.net']).toBe('example-list');
  });

  it('refuses a display name that is no zone-like name, naming the zone without its key', () => {
    let err: unknown;
    try {
      compileConfig(parseConfig(yaml(`{ ${KEY}.zen.dq.spamhaus.net: { display: "a b" } }`), { env: {} }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = formatConfigErrors(err as ConfigError);
    expect(text).toContain('dns.zones');
    expect(text).toContain('zen.dq.spamhaus.net');
    expect(text).not.toContain(KEY);
  });
});

describe('compileConfig: queue.dkim keys', () => {
  const withKey = `${yaml()}queue:\n  dkim:\n    - { domain: example.org, selector: s1, key: /nonexistent/moat-dkim/example.org.s1.pem }\n`;

  it('refuses an entry whose key cannot be read (mx, moat config check)', () => {
    expect(() => compileConfig(parseConfig(withKey, { env: {} }))).toThrow(ConfigError);
  });

  it('opens no key with dkimKeys: false (policyd and the console never sign)', () => {
    const read: string[] = [];
    const readFile = (p: string) => {
      read.push(p);
      throw new Error(`ENOENT: ${p}`);
    };
    expect(() => compileConfig(parseConfig(withKey, { env: {} }), { dkimKeys: false, readFile })).not.toThrow();
    expect(read.filter((p) => p.includes('dkim'))).toEqual([]);
  });
});
