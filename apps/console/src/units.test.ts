import { hashPassword, parseHash, verifyPassword } from '@moat/auth';
import { describe, expect, it } from 'vitest';
import { esc, loginPage } from './pages.ts';
import { decisionCounters, parseMetrics, zoneCounters } from './scrape.ts';
import { createSessions, sameToken } from './sessions.ts';

describe('password', () => {
  it('hashes with scrypt and verifies in constant time', async () => {
    const h = await hashPassword('correct horse', { N: 1024 });
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horsE', h)).toBe(false);
    expect(await verifyPassword('x', 'plain-text-password')).toBe(false);
  });
  it('checks a hash of the MX users file (one format for both)', async () => {
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const legacy = `scrypt$1024$8$1$${salt.toString('base64')}$${scryptSync('admin pw', salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64')}`;
    expect(parseHash(legacy)).toBeDefined();
    expect(await verifyPassword('admin pw', legacy)).toBe(true);
  });
  it('refuses hashes with hostile cost parameters', () => {
    expect(parseHash('scrypt$1073741824$8$1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
  });
});

describe('sessions', () => {
  it('expires idle sessions and throttles failed logins per address', () => {
    let t = 0;
    const s = createSessions({ idleMs: 1000, maxFailures: 2, failureWindowMs: 5000, now: () => t });
    const a = s.create('admin');
    expect(s.get(a.id)?.user).toBe('admin');
    t = 1500;
    expect(s.get(a.id)).toBeUndefined();
    s.failed('192.0.2.1');
    expect(s.mayTry('192.0.2.1')).toBe(true);
    s.failed('192.0.2.1');
    expect(s.mayTry('192.0.2.1')).toBe(false);
    expect(s.mayTry('192.0.2.2')).toBe(true);
    t = 10_000;
    expect(s.mayTry('192.0.2.1')).toBe(true);
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abc', 'abd')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
    s.close();
  });
});

describe('metrics scraping', () => {
  it('reads moat_ samples, labels with escapes, and sums per restriction and zone', () => {
    const text = [
      '# HELP moat_decisions_total x',
      'moat_decisions_total{restriction="reject_rbl_client zen.example",action="reject"} 3',
      'moat_decisions_total{restriction="none",action="continue"} 7',
      'moat_dnslist_lookups_total{zone="zen.example",result="listed"} 3',
      'moat_dnslist_lookups_total{zone="zen.example",result="not-listed"} 10',
      'moat_dnslist_hits_total{zone="zen.example"} 3',
      'moat_decision_duration_seconds_bucket{le="0.1"} 4',
      'moat_weird{x="a\\"b"} 1',
      'process_cpu_seconds_total 5',
    ].join('\n');
    const s = parseMetrics(text);
    expect(s.find((x) => x.name === 'moat_weird')?.labels.x).toBe('a"b');
    expect(s.some((x) => x.name.endsWith('_bucket') || x.name.startsWith('process'))).toBe(false);
    expect(decisionCounters(s)[0]).toEqual({ restriction: 'none', action: 'continue', count: 7 });
    expect(zoneCounters(s)).toEqual([{ zone: 'zen.example', lookups: { listed: 3, 'not-listed': 10 }, hits: 3, errors: 0, failures: {} }]);
  });
});

describe('pages and settings', () => {
  it('escapes what it interpolates', () => {
    expect(esc(`<img src=x onerror="a">'`)).toBe('&#60;img src=x onerror=&#34;a&#34;&#62;&#39;');
    expect(loginPage({ csrf: 't', user: '"><script>' })).not.toContain('"><script>');
  });
});
