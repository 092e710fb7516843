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
