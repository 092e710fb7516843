import { describe, expect, it } from 'vitest';
import { verifyClient } from './dns.ts';
import { Anvil, inNetworks } from './limits.ts';
import { envelopePath } from './smtp-hooks.ts';
import { receivedHeader, rfc5322Date } from './received.ts';
import { testConfig, views } from '@moat/config';
import { spamDecision } from './spam-policy.ts';

describe('limits', () => {
  it('anvil: concurrency and rate per address', () => {
    let now = 0;
    const a = new Anvil({ perIpConcurrency: 2, perIpRatePerMinute: 3, now: () => now });
    expect(a.admit('198.51.100.1').ok).toBe(true);
    expect(a.admit('198.51.100.1').ok).toBe(true);
    expect(a.admit('198.51.100.1')).toMatchObject({ ok: false, reason: 'concurrency' });
    a.release('198.51.100.1');
    expect(a.admit('198.51.100.1').ok).toBe(true);
    a.release('198.51.100.1');
    expect(a.admit('198.51.100.1')).toMatchObject({ ok: false, reason: 'rate' });
    now = 61_000;
    expect(a.admit('198.51.100.1').ok).toBe(true);
  });

  it('anvil: new limits from a reload keep the sessions counted so far (no fresh allowance)', () => {
    const a = new Anvil({ perIpConcurrency: 2, perIpRatePerMinute: 0 });
    expect(a.admit('198.51.100.1').ok).toBe(true);
    expect(a.admit('198.51.100.1').ok).toBe(true);
    expect(a.admit('198.51.100.2').ok).toBe(true);
    expect(a.total()).toBe(3);
    a.configure({ perIpConcurrency: 3, perIpRatePerMinute: 0 });
    expect(a.admit('198.51.100.1').ok).toBe(true);
    expect(a.admit('198.51.100.1')).toMatchObject({ ok: false, reason: 'concurrency' });
    a.release('198.51.100.2');
    a.release('198.51.100.2'); // a second release of an address with none open changes nothing
    expect(a.total()).toBe(3);
  });

  it('CIDR membership, v4, v6 and mapped v4', () => {
    expect(inNetworks('192.0.2.7', ['192.0.2.0/28'])).toBe(true);
    expect(inNetworks('192.0.2.17', ['192.0.2.0/28'])).toBe(false);
    expect(inNetworks('::ffff:127.0.0.1', ['127.0.0.0/8'])).toBe(true);
    expect(inNetworks('2001:db8::1', ['2001:db8::/32'])).toBe(true);
    expect(inNetworks('2001:db9::1', ['2001:db8::/32'])).toBe(false);
    expect(inNetworks('::1', ['[::1]/128'])).toBe(true);
    expect(inNetworks('junk', ['0.0.0.0/0'])).toBe(false);
    // prefix edges and what @moat/policy's parser refuses (host bits set, over-long prefix, junk)
    expect(inNetworks('203.0.113.9', ['0.0.0.0/0'])).toBe(true);
    expect(inNetworks('192.0.2.1', ['192.0.2.1/32'])).toBe(true);
    expect(inNetworks('192.0.2.2', ['192.0.2.1/32'])).toBe(false);
    expect(inNetworks('192.0.2.1', ['192.0.2.1'])).toBe(true);
    expect(inNetworks('192.0.2.1', ['192.0.2.1/24'])).toBe(false);
    expect(inNetworks('192.0.2.1', ['192.0.2.0/33', 'nonsense'])).toBe(false);
    expect(inNetworks('2001:db8::1', ['::/0'])).toBe(true);
    expect(inNetworks('[2001:db8::1]', ['2001:db8::1/128'])).toBe(true);
    expect(inNetworks(' 192.0.2.7 ', ['192.0.2.0/28'])).toBe(true);
    expect(inNetworks('::FFFF:192.0.2.7', ['192.0.2.0/28'])).toBe(true);
    expect(inNetworks('192.0.2.7', ['::ffff:192.0.2.0/120'])).toBe(true);
  });
});

describe('received', () => {
  it('formats Postfix-style, with TLS and client cert, untrusted text made safe', () => {
    const h = receivedHeader({
      helo: 'evil (x)\r\nInjected: yes',
      clientAddress: '2001:db8::1',
      byHost: 'mx.example.org',
      protocol: 'ESMTPS',
      id: 'abc',
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', clientCertSubject: 'peer', clientCertIssuer: 'ca', clientCertVerified: false },
      date: new Date(Date.UTC(2026, 10, 24, 11, 3, 12)),
    });
    expect(h).toBe(
      'Received: from evil??x???Injected:?yes (unknown [IPv6:2001:db8::1])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n\t(Client CN "peer", Issuer "ca" (not verified))\r\n\tby mx.example.org (moat) with ESMTPS id abc; Tue, 24 Nov 2026 11:03:12 +0000',
    );
    expect(rfc5322Date(new Date(Date.UTC(2026, 0, 5, 1, 2, 3)))).toBe('Mon, 5 Jan 2026 01:02:03 +0000');
  });
});

describe('spam policy', () => {
  const s = views.mx(testConfig()).spamd;
  it('rejects at the threshold, flags above spamd required score, fails open or closed per config', () => {
    expect(spamDecision({ result: { isSpam: true, score: 10, threshold: 5, ms: 1 } }, s)).toMatchObject({ action: 'reject', code: 550 });
    expect(spamDecision({ result: { isSpam: true, score: 6, threshold: 5, ms: 1 } }, s)).toMatchObject({
      action: 'accept',
      headers: ['X-Spam-Flag: YES', 'X-Spam-Score: 6.0', 'X-Spam-Status: Yes, score=6.0 required=5.0'],
    });
    expect(spamDecision({ error: 'ESPAMD_CONNECT' }, s)).toMatchObject({ action: 'accept', headers: ['X-Spam-Status: unchecked (scanner unavailable)'] });
    expect(spamDecision({ error: 'ESPAMD_TIMEOUT' }, { ...s, onFailure: 'tempfail' })).toMatchObject({ action: 'tempfail', code: 451 });
    expect(spamDecision({ skipped: 'message too large to scan' }, s)).toMatchObject({ action: 'accept', status: 'unchecked' });
    expect(spamDecision({ result: { isSpam: true, score: 5.5, threshold: 5, ms: 1 } }, { ...s, rejectScore: undefined })).toMatchObject({ action: 'reject' });
  });
});

describe('settings', () => {
  it('reads @moat/config sections with the schema defaults', () => {
    const d = views.mx(testConfig());
    expect(d.hostname).toBe('mx.example.org');
    expect(d.limits.maxMessageSize).toBe(81_920_000);
    expect(d.spamd).toMatchObject({ enabled: true, port: 783, onFailure: 'accept', rejectScore: 10 });
    expect(Object.isFrozen(d.limits)).toBe(true);
    const c = views.mx(testConfig({ mx: { hostname: 'a.example', size_limit: 1000, xclient: { trusted_networks: ['10.0.0.0/8'] } }, dns: { resolver: '127.0.0.1:5353' } }));
    expect(c).toMatchObject({ hostname: 'a.example', xclientNetworks: ['10.0.0.0/8'], dns: { servers: ['127.0.0.1:5353'] } });
  });
});

describe('FCrDNS', () => {
  const resolver = (zone: Record<string, string[]>) => ({
    reverse: async (ip: string) => zone[`PTR ${ip}`] ?? Promise.reject(new Error('ENOTFOUND')),
    resolve4: async (n: string) => zone[`A ${n}`] ?? Promise.reject(new Error('ENOTFOUND')),
    resolve6: async (n: string) => zone[`AAAA ${n}`] ?? Promise.reject(new Error('ENOTFOUND')),
    resolve: async () => [],
  });
  it('verifies PTR + A; keeps the unverified name apart; bad names dropped', async () => {
    expect(await verifyClient(resolver({ 'PTR 192.0.2.1': ['mail.example.net'], 'A mail.example.net': ['192.0.2.1'] }), '192.0.2.1', 1000)).toEqual({
      reverseName: 'mail.example.net',
      clientName: 'mail.example.net',
    });
    expect(await verifyClient(resolver({ 'PTR 192.0.2.1': ['liar.example.net'], 'A liar.example.net': ['192.0.2.99'] }), '192.0.2.1', 1000)).toEqual({
      reverseName: 'liar.example.net',
    });
    expect(await verifyClient(resolver({ 'PTR 192.0.2.1': ['bad name\r\n'] }), '192.0.2.1', 1000)).toEqual({ reverseName: undefined });
    expect(await verifyClient(resolver({}), '192.0.2.1', 1000)).toEqual({});
    const hang = { ...resolver({}), reverse: () => new Promise<string[]>(() => {}) };
    expect(await verifyClient(hang, '192.0.2.1', 50)).toEqual({});
  });
});

describe('auth-results input', () => {
  it('sends only the headers when nothing is signed', async () => {
    const { authInput } = await import('./auth-results.ts');
    const plain = Buffer.from('From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n');
    expect(authInput(plain).toString()).toBe('From: a@b.example\r\nSubject: x\r\n\r\n');
    const signed = Buffer.from('DKIM-Signature: v=1; d=b.example\r\nFrom: a@b.example\r\n\r\nbody\r\n');
    expect(authInput(signed)).toBe(signed);
  });
});

describe('envelopePath: the MAIL FROM / RCPT TO path as written', () => {
  it('cuts ESMTP parameters, keeps quoted spaces and brackets, tolerates a space after the colon', () => {
    expect(envelopePath('MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME', 'FROM')).toBe('<a@b.example>');
    expect(envelopePath('mail from: <a@b.example>', 'FROM')).toBe('<a@b.example>');
    expect(envelopePath('MAIL FROM:<"x > y"@b.example> SIZE=1', 'FROM')).toBe('<"x > y"@b.example>');
    expect(envelopePath('MAIL FROM:<"x \\" >"@b.example>', 'FROM')).toBe('<"x \\" >"@b.example>');
    expect(envelopePath('MAIL FROM:<>', 'FROM')).toBe('<>');
    expect(envelopePath('RCPT TO:<r(c)@example.org> NOTIFY=NEVER', 'TO')).toBe('<r(c)@example.org>');
    expect(envelopePath('MAIL FROM:a@b.example SIZE=1', 'FROM')).toBe('a@b.example');
    expect(envelopePath('MAIL FROM:<a@b.example', 'FROM')).toBe('<a@b.example');
    expect(envelopePath('MAIL <a@b.example>', 'FROM')).toBeUndefined();
    expect(envelopePath('RCPT TO:<a@b.example>', 'FROM')).toBeUndefined();
  });
});
