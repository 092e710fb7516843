import { describe, expect, it } from 'vitest';
import { compileConfig } from '../compile.ts';
import { ConfigError, formatConfigErrors, parseConfig } from '../load.ts';
import { importMainCf } from './import.ts';

const IFACES = [{ address: '127.0.0.1', prefix: 8, family: 'IPv4' as const }];
const imp = (text: string) => importMainCf(text, '/etc/postfix/main.cf', { interfaces: IFACES, host: 'box' });
const BASE = 'myhostname = mx.example.org\nmydestination = example.org\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n';
const errorsOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return formatConfigErrors(e);
    throw e;
  }
  throw new Error('no error');
};

describe('main.cf postscreen_dnsbl_* keys', () => {
  it('map onto policy.dnsbl_*; the old whitelist name is read when the new one is unset', () => {
    const r = imp(`${BASE}smtpd_recipient_restrictions = reject_dnsbl_score, permit
postscreen_dnsbl_sites = zen.spamhaus.org=127.0.0.[2..11]*3
    list.dnswl.org=127.0.[0..255].[1..3]*-2, bl.spamcop.net
postscreen_dnsbl_threshold = 3
postscreen_dnsbl_whitelist_threshold = -2
`);
    expect(r.errors).toEqual([]);
    expect(r.input.policy).toMatchObject({ dnsbl_sites: ['zen.spamhaus.org=127.0.0.[2..11]*3', 'list.dnswl.org=127.0.[0..255].[1..3]*-2', 'bl.spamcop.net'], dnsbl_threshold: 3, dnsbl_allowlist_threshold: -2 });
    expect(r.used.map((u) => u.name)).toEqual(expect.arrayContaining(['postscreen_dnsbl_sites', 'postscreen_dnsbl_threshold', 'postscreen_dnsbl_whitelist_threshold']));
    expect(r.warnings.filter((w) => w.name.startsWith('postscreen'))).toEqual([]);
  });
  it('the new allowlist name wins over the old one (Postfix 3.6 default: allowlist = $whitelist)', () => {
    const r = imp(`${BASE}postscreen_dnsbl_whitelist_threshold = -2\npostscreen_dnsbl_allowlist_threshold = -5\n`);
    expect(r.input.policy).toMatchObject({ dnsbl_allowlist_threshold: -5 });
  });
  it('warns when no list names a score restriction (moat runs no postscreen)', () => {
    const r = imp(`${BASE}postscreen_dnsbl_sites = zen.spamhaus.org*2\n`);
    expect(r.warnings.find((w) => w.name === 'postscreen_dnsbl_sites')?.note).toMatch(/no restriction list names reject_dnsbl_score/);
  });
  it('a malformed entry is an error naming it and its line', () => {
    const r = imp(`${BASE}postscreen_dnsbl_sites = zen.spamhaus.org*3,
    list.dnswl.org=127.0.[0..255].[1..3*-2
postscreen_dnsbl_threshold = three
`);
    expect(r.errors).toEqual([
      { name: 'postscreen_dnsbl_sites', line: 5, expected: expect.stringMatching(/^malformed postscreen_dnsbl_sites entry: malformed return-code filter/), found: '"list.dnswl.org=127.0.[0..255].[1..3*-2"' },
      { name: 'postscreen_dnsbl_threshold', line: 6, expected: 'an integer', found: '"three"' },
    ]);
  });
});

describe('policy.dnsbl_* in moat.yaml', () => {
  const yaml = (policy: string) => `policy:\n  hostname: mx.example.org\n${policy}recipients: { domains: [example.org] }\n`;
  it('reaches the engine spec, with zone display names for the sites (no DQS key shown)', () => {
    const c = parseConfig(yaml('  recipient_restrictions: reject_dnsbl_score, permit\n  dnsbl_sites: |\n    k3y.zen.dq.spamhaus.net=127.0.0.[2..11]*3\n    list.dnswl.org*-2\n  dnsbl_threshold: 3\n  dnsbl_whitelist_threshold: -1\n'), { env: {} });
    const { spec } = compileConfig(c);
    expect(spec.dnsblSites).toEqual([
      { zone: 'k3y.zen.dq.spamhaus.net', filter: '127.0.0.[2..11]', weight: 3 },
      { zone: 'list.dnswl.org', weight: -2 },
    ]);
    expect(spec.dnsblThreshold).toBe(3);
    expect(spec.dnsblAllowlistThreshold).toBe(-1);
    expect(spec.zoneDisplayNames?.['k3y.zen.dq.spamhaus.net']).toBe('zen.dq.spamhaus.net');
  });
  it('defaults: no sites, threshold 1, allowlist threshold 0 (off)', () => {
    const { spec } = compileConfig(parseConfig(yaml(''), { env: {} }));
    expect([spec.dnsblSites, spec.dnsblThreshold, spec.dnsblAllowlistThreshold]).toEqual([undefined, 1, 0]);
  });
  it('a malformed entry is a config check error naming it, at its file:line', () => {
    const text = errorsOf(() => parseConfig(yaml('  dnsbl_sites: |\n    zen.spamhaus.org*3\n    bl.example=127.0.0.[2..]*2\n'), { env: {} }));
    expect(text).toMatch(/^moat\.yaml:5:5: policy\.dnsbl_sites: bl\.example=127\.0\.0\.\[2\.\.\]\*2: malformed postscreen_dnsbl_sites entry: .*not a number/);
    const list = errorsOf(() => parseConfig(yaml('  dnsbl_sites:\n    - zen.spamhaus.org*3\n    - bl.example*x\n'), { env: {} }));
    expect(list).toMatch(/^moat\.yaml:5:7: policy\.dnsbl_sites\[1\]: bl\.example\*x: malformed postscreen_dnsbl_sites entry: weight "x" is not an integer/);
  });
  it('a score restriction without sites is an error naming the list item', () => {
    expect(errorsOf(() => parseConfig(yaml('  recipient_restrictions: reject_dnsbl_score, permit\n'), { env: {} }))).toMatch(/policy\.recipient_restrictions: item 1 \(reject_dnsbl_score\): needs weighted DNS lists in policy\.dnsbl_sites/);
  });
});
