// Spawns the real `moat` entry point (Node 24 runs the .ts directly) and checks output and exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../../moat.example.yaml', import.meta.url));

function moat(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('moat config check', { timeout: 180_000 }, () => {
  it('prints ok and a summary for the example config', () => {
    const r = moat(['config', 'check', EXAMPLE]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok .*moat\.example\.yaml\n/);
    expect(r.out).toContain('hostname: mx1.example.org');
    expect(r.out).toContain('relay restrictions: permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination');
    expect(r.out).toContain('recipient restrictions: 30 (13 DNS list zones)');
  });

  it('--show-policy prints the effective lists as Postfix text', () => {
    const r = moat(['config', 'check', EXAMPLE, '--show-policy']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('smtpd_recipient_restrictions =\n  reject_missing_helo,\n');
    expect(r.out).toContain('  permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3],\n');
  });

  it('weighted DNS lists: a malformed postscreen_dnsbl_sites entry is named at its line; --show-policy prints the set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    const file = join(dir, 'moat.yaml');
    const yaml = (sites: string) => `policy:\n  hostname: mx.example.org\n  recipient_restrictions: reject_dnsbl_score, permit\n  dnsbl_threshold: 3\n  dnsbl_sites: |\n    k3y.zen.dq.spamhaus.net=127.0.0.[2..11]*3\n    ${sites}\nrecipients:\n  domains: [example.org]\n`;
    writeFileSync(file, yaml('list.dnswl.org=127.0.[0..255].[1..3*-2'));
    const bad = moat(['config', 'check', file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${file}:7:5: policy.dnsbl_sites: list.dnswl.org=127.0.[0..255].[1..3*-2: malformed postscreen_dnsbl_sites entry`);
    writeFileSync(file, yaml('list.dnswl.org=127.0.[0..255].[1..3]*-2'));
    const ok = moat(['config', 'check', file, '--show-policy']);
    expect(ok.err).toBe('');
    expect(ok.out).toContain('recipient restrictions: 2 (0 DNS list zones, 2 weighted (threshold 3))');
    expect(ok.out).toContain('postscreen_dnsbl_sites =\n  zen.dq.spamhaus.net=127.0.0.[2..11]*3,\n  list.dnswl.org=127.0.[0..255].[1..3]*-2\npostscreen_dnsbl_threshold = 3\npostscreen_dnsbl_allowlist_threshold = 0\n');
    expect(ok.out).not.toContain('k3y');
  });

  it('prints the errors and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    const file = join(dir, 'moat.yaml');
    writeFileSync(file, 'policy:\n  hostname: mx.example.org\n  recipient_restrictions: permit_mynetworks reject_rbl_clinet zen.spamhaus.org\nrecipients:\n  domains: [example.org]\ngreylist:\n  delay: soon\n');
    const r = moat(['config', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(`${file}:3:27: policy.recipient_restrictions: reject_rbl_clinet: unknown restriction`);
    expect(r.err).toContain(`${file}:7:10: greylist.delay: expected a duration`);
  });

  it('prints advice as warnings and still exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    const file = join(dir, 'moat.yaml');
    writeFileSync(file, 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\ndns:\n  resolver: 192.0.2.53:53\n');
    const r = moat(['config', 'check', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('warning: dns.resolver: 192.0.2.53:53: not a loopback or private address');
    expect(r.out).toContain('warning: mx.tls: no certificate');
  });

  it('names the keys the file sets that nothing reads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    const file = join(dir, 'moat.yaml');
    writeFileSync(file, 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\npolicyd:\n  enabled: true\n');
    const r = moat(['config', 'check', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('warning: policyd.enabled: set in the file but read by nothing\n');
    expect(moat(['config', 'check', EXAMPLE]).out).not.toContain('read by nothing');
  });

  it('lists the lookup tables it opened, with the lines Postfix would warn about', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    const file = join(dir, 'moat.yaml');
    writeFileSync(join(dir, 'access'), '192.0.2.1 REJECT\n192.0.2.1 OK\n');
    writeFileSync(file, 'policy:\n  hostname: mx.example.org\n  client_access: texthash:access\nrecipients:\n  domains: [example.org]\n');
    const r = moat(['config', 'check', file]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`table: texthash:access (1 entries, ${join(dir, 'access')})\n`);
    expect(r.out).toContain(`warning: ${join(dir, 'access')}:2: duplicate entry (first seen on line 1): the first one is kept\n`);
    writeFileSync(join(dir, 'access'), '192.0.2.1\n');
    const bad = moat(['config', 'check', file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${join(dir, 'access')}:1:1: policy.recipient_restrictions: a valid texthash table for check_client_access texthash:access; found`);
  });

  it('refuses a signing-table entry whose key is missing or no key, naming the path, never printing key text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    const file = join(dir, 'moat.yaml');
    const secret = 'MC4CAQAwBQYDK2VwBCIEIPrivateBitsThatMustNotLeak';
    writeFileSync(join(dir, 'notakey.pem'), `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`);
    writeFileSync(
      file,
      'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nqueue:\n  dkim:\n    - { domain: example.org, selector: s1, key: missing.pem }\n    - { domain: example.org, selector: s2, key: notakey.pem }\n',
    );
    const r = moat(['config', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('queue.dkim[0].key: a readable PEM private key for s1._domainkey.example.org');
    expect(r.err).toContain(join(dir, 'missing.pem'));
    expect(r.err).toContain('queue.dkim[1].key: an RSA or Ed25519 private key in PEM (moat dkim keygen writes one)');
    expect(r.err).not.toContain(secret);
  });

  it('reads $MOAT_CONFIG when no FILE is given, and names a missing file', () => {
    expect(moat(['config', 'check'], { MOAT_CONFIG: EXAMPLE }).code).toBe(0);
    const r = moat(['config', 'check', '/nonexistent/moat.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('/nonexistent/moat.yaml: (document): a readable YAML file; found no such file\n');
  });

  it('runs as the README says: npm exec -- node apps/cli/src/main.ts config check FILE', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const r = spawnSync('npm', ['exec', '--', 'node', 'apps/cli/src/main.ts', 'config', 'check', 'moat.example.yaml'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok /);
  });

  it('usage errors exit 2', () => {
    expect(moat([]).code).toBe(2);
    expect(moat(['frobnicate']).code).toBe(2);
    expect(moat(['config']).code).toBe(2);
    expect(moat(['config', 'check', 'a', 'b']).code).toBe(2);
    const r = moat(['config', 'check', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: moat config check');
    expect(moat(['--help']).code).toBe(0);
  });
});
