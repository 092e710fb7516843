import { describe, expect, it } from 'vitest';
import { lintConfig } from './lint.ts';
import { parseConfig } from './load.ts';
import { tlsReportFrom } from './tls-report-from.ts';

const base = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nmx:\n  tls: { cert: /c.pem, key: /k.pem }\n';
const cfg = (queue: string) => parseConfig(`${base}queue:\n${queue}`, { env: {} });
const key = (domain: string, extra = '') => `    - { domain: ${domain}, selector: s1, key: /k/${domain}.pem${extra} }\n`;

describe('tlsReportFrom: a From address a queue.dkim key signs (RFC 8460 3)', () => {
  it('the MX host name, then its parent domains, then a key domain', () => {
    expect(tlsReportFrom(cfg(`  dkim:\n${key('mx.example.org')}${key('example.org')}`))).toEqual({ from: 'postmaster@mx.example.org', signedBy: ['mx.example.org/s1'] });
    expect(tlsReportFrom(cfg(`  dkim:\n${key('other.example')}${key('example.org')}`))).toEqual({ from: 'postmaster@example.org', signedBy: ['example.org/s1'] });
    expect(tlsReportFrom(cfg(`  dkim:\n${key('other.example')}`))).toEqual({ from: 'postmaster@other.example', signedBy: ['other.example/s1'] });
    // a key limited to one sender does not sign postmaster@
    expect(tlsReportFrom(cfg(`  dkim:\n${key('example.org', ', match: alice@example.org')}`))).toEqual({ from: 'postmaster@mx.example.org', signedBy: [] });
  });
  it('config check warns when reports are sent and nothing signs them', () => {
    const warn = (q: string) => lintConfig(cfg(q)).filter((w) => w.path === 'queue.dkim');
    expect(warn('  tls:\n    report_send: true\n')).toEqual([expect.objectContaining({ message: expect.stringMatching(/no key signs their From \(postmaster@mx\.example\.org\)/) })]);
    expect(warn(`  tls:\n    report_send: true\n  dkim:\n${key('example.org')}`)).toEqual([]);
    expect(warn('  tls:\n    report_send: false\n')).toEqual([]);
  });
});
