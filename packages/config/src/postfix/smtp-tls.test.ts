import { describe, expect, it } from 'vitest';
import { parseConfig } from '../load.ts';
import { importMainCf } from './import.ts';

const IFACES = [{ address: '127.0.0.1', prefix: 8, family: 'IPv4' as const }];
const files = (map: Record<string, string>) => (p: string) => {
  const t = map[p];
  if (t === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
  return t;
};
const imp = (text: string, tables: Record<string, string> = {}) =>
  importMainCf(`compatibility_level = 3.6\nmyhostname = mx.example.org\n${text}`, '/etc/postfix/main.cf', { interfaces: IFACES, host: 'box', readFile: files(tables) });
const tls = (r: ReturnType<typeof imp>) => (r.input.queue as { tls?: Record<string, unknown> } | undefined)?.tls;

describe('smtp_tls_security_level', () => {
  it('dane-only with a relayhost or transport without MX lookup is an error, unless a policy entry gives that hop another level', () => {
    const base = 'smtp_tls_security_level = dane-only\nsmtp_dns_support_level = dnssec\n';
    const r = imp(`${base}relayhost = [smart.example]:25\n`);
    expect(r.errors).toEqual([expect.objectContaining({ name: 'smtp_tls_security_level', found: 'dane-only with relayhost = [smart.example]:25' })]);
    expect(imp(`${base}default_transport = smtp:[10.0.0.2]\n`).errors).toEqual([expect.objectContaining({ found: 'dane-only with default_transport = smtp:[10.0.0.2]' })]);
    expect(imp(`${base}relayhost = smart.example\n`).errors).toEqual([]);
    expect(imp(`${base}relayhost = [smart.example]:25\nsmtp_tls_policy_maps = texthash:/t\n`, { '/t': '[Smart.Example]:25 verify\n' }).errors).toEqual([]);
  });
  it('maps each level moat implements onto queue.tls.security_level', () => {
    for (const level of ['may', 'dane', 'encrypt', 'dane-only', 'verify', 'secure']) {
      const r = imp(`smtp_tls_security_level = ${level}\nsmtp_dns_support_level = dnssec\n`);
      expect(r.errors, level).toEqual([]);
      expect(tls(r)?.security_level, level).toBe(level);
      expect(r.used.find((u) => u.name === 'smtp_tls_security_level')?.note).toMatch(new RegExp(`^queue.tls.security_level = ${level}: `));
    }
  });

  it('takes the obsolete keys as Postfix does when the level is empty (smtp_enforce_tls before smtp_use_tls)', () => {
    expect(tls(imp('smtp_use_tls = yes\n'))?.security_level).toBe('may');
    // smtp_tls_enforce_peername defaults to yes: verify
    expect(tls(imp('smtp_enforce_tls = yes\n'))?.security_level).toBe('verify');
    expect(tls(imp('smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no\n'))?.security_level).toBe('encrypt');
    const r = imp('smtp_tls_security_level = encrypt\nsmtp_use_tls = no\n');
    expect(tls(r)?.security_level).toBe('encrypt');
    expect(r.used.find((u) => u.name === 'smtp_use_tls')?.note).toBe('no effect: smtp_tls_security_level is set');
  });

  it('warns about Postfix\'s silent default none, refuses an explicit none or fingerprint', () => {
    const unset = imp('');
    expect(unset.errors).toEqual([]);
    expect(tls(unset)).toBeUndefined();
    expect(unset.warnings.find((w) => w.name === 'smtp_tls_security_level')?.note).toMatch(/Postfix's default is none/);
    expect(imp('smtp_tls_security_level = none\n').errors).toEqual([expect.objectContaining({ name: 'smtp_tls_security_level', found: 'none (no TLS)', line: 3 })]);
    expect(imp('smtp_use_tls = no\n').errors).toEqual([expect.objectContaining({ name: 'smtp_tls_security_level', found: 'none (no TLS)' })]);
    expect(imp('smtp_tls_security_level = fingerprint\n').errors[0]).toMatchObject({ name: 'smtp_tls_security_level', found: '"fingerprint"' });
  });
});

describe('smtp_tls_policy_maps', () => {
  const table = [
    '# per-destination TLS',
    'example.com      encrypt',
    '.example.net     secure match=.example.net:example.net',
    'dane.example     dane-only',
    '[relay.example]:587 may',
    'Mixed.Example    verify',
    '',
  ].join('\n');

  it('reads the table source (texthash, or hash\'s postmap input) into queue.tls.policies; the first table wins', () => {
    const r = imp('smtp_tls_security_level = may\nsmtp_tls_policy_maps = hash:/etc/postfix/tls_policy, texthash:/etc/postfix/more\n', {
      '/etc/postfix/tls_policy': table,
      '/etc/postfix/more': 'example.com verify\nother.example encrypt\n',
    });
    expect(r.errors).toEqual([]);
    expect(tls(r)?.policies).toEqual({ 'example.com': 'encrypt', '.example.net': 'secure', 'dane.example': 'dane-only', '[relay.example]:587': 'may', 'mixed.example': 'verify', 'other.example': 'encrypt' });
    const notes = r.warnings.filter((w) => w.name === 'smtp_tls_policy_maps').map((w) => w.note);
    expect(notes).toEqual([expect.stringMatching(/^\/etc\/postfix\/tls_policy:3: \.example\.net: attributes ignored \(match=/)]);
  });

  it('keeps [host] and [host]:port keys for the relayhost and smtp:[host]:port next hops, as Postfix looks them up', () => {
    const r = imp('relayhost = [relay.example]:587\nsmtp_tls_policy_maps = texthash:/etc/postfix/t\n', {
      '/etc/postfix/t': '[relay.example]:587 encrypt\n[smarthost.example] secure\n[old.example]:25 verify\n[dane.example] dane-only\nrelay.example:587 verify\n',
    });
    expect(tls(r)?.policies).toEqual({ '[relay.example]:587': 'encrypt', '[smarthost.example]': 'secure', '[old.example]:25': 'verify' });
    // Postfix keys the next hop verbatim: [old.example]:25 matches a relayhost written [old.example]:25, no warning
    expect(r.warnings.map((w) => w.note)).not.toContainEqual(expect.stringMatching(/old\.example/));
    expect(r.errors.map((e) => e.found)).toEqual(['/etc/postfix/t:4: [dane.example] "dane-only"', '/etc/postfix/t:5: relay.example:587 "verify"']);
  });

  it('reports entries moat cannot honour with their file and line, and tables it cannot read', () => {
    const r = imp('smtp_tls_policy_maps = texthash:/etc/postfix/t, mysql:/etc/postfix/m.cf\n', { '/etc/postfix/t': 'broken.example none\nfp.example fingerprint\n' });
    expect(r.errors.map((e) => e.found)).toEqual(['"mysql:/etc/postfix/m.cf"', '/etc/postfix/t:1: broken.example "none"', '/etc/postfix/t:2: fp.example "fingerprint"']);
    expect(imp('smtp_tls_policy_maps = hash:/nope\n').errors[0]).toMatchObject({ name: 'smtp_tls_policy_maps', expected: expect.stringContaining('/nope') });
  });

  it('loads through moat.yaml (postfix.main_cf) into a valid config', () => {
    const yamlText = 'version: 1\npostfix:\n  main_cf: /etc/postfix/main.cf\n';
    const mainCf = 'compatibility_level = 3.6\nmyhostname = mx.example.org\nsmtp_tls_security_level = encrypt\nsmtp_tls_policy_maps = texthash:/etc/postfix/tls_policy\n';
    const c = parseConfig(yamlText, { file: '/srv/moat/moat.yaml', env: {}, readFile: files({ '/etc/postfix/main.cf': mainCf, '/etc/postfix/tls_policy': 'example.com verify\n' }) });
    expect(c.queue.tls.security_level).toBe('encrypt');
    expect(c.queue.tls.policies).toEqual({ 'example.com': 'verify' });
  });
});

describe('lmtp_tls_security_level, lmtp_tls_policy_maps', () => {
  it('are Postfix\'s none when unset (nothing imported), and map onto queue.tls.lmtp', () => {
    const unset = imp('');
    expect((tls(unset) as { lmtp?: unknown } | undefined)?.lmtp).toBeUndefined();
    const r = imp('lmtp_tls_security_level = encrypt\nlmtp_tls_policy_maps = texthash:/etc/postfix/l\n', { '/etc/postfix/l': 'box.example:2424 verify\n[dovecot.example] secure\nbox.example:24 may\n' });
    expect(r.errors).toEqual([]);
    expect(tls(r)?.lmtp).toEqual({ security_level: 'encrypt', policies: { 'box.example:2424': 'verify', '[dovecot.example]': 'secure', 'box.example:24': 'may' } });
    expect(r.warnings.map((w) => w.note)).not.toContainEqual(expect.stringMatching(/box\.example:24/));
  });

  it('takes the obsolete lmtp_enforce_tls / lmtp_use_tls as Postfix does, and refuses dane for LMTP', () => {
    expect(tls(imp('lmtp_enforce_tls = yes\n'))?.lmtp).toMatchObject({ security_level: 'verify' });
    expect(tls(imp('lmtp_use_tls = yes\n'))?.lmtp).toMatchObject({ security_level: 'may' });
    expect(imp('lmtp_tls_security_level = dane\n').errors[0]).toMatchObject({ name: 'lmtp_tls_security_level', found: '"dane"' });
  });

  it('loads through moat.yaml into a valid config', () => {
    const mainCf = 'compatibility_level = 3.6\nmyhostname = mx.example.org\nlmtp_tls_security_level = may\nsmtp_tls_security_level = may\nsmtp_tls_policy_maps = texthash:/etc/postfix/t\n';
    const c = parseConfig('version: 1\npostfix:\n  main_cf: /etc/postfix/main.cf\n', { file: '/srv/moat/moat.yaml', env: {}, readFile: files({ '/etc/postfix/main.cf': mainCf, '/etc/postfix/t': '[relay.example]:587 encrypt\n' }) });
    expect(c.queue.tls.lmtp).toEqual({ security_level: 'may', policies: {} });
    expect(c.queue.tls.policies).toEqual({ '[relay.example]:587': 'encrypt' });
  });
});
