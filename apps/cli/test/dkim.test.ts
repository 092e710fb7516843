// `moat dkim keygen` and `moat dkim check` through the real entry point, the check against a test Unbound
// serving the published record; a signing-table entry without a usable key is a `config check` error.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUnbound, type UnboundServer } from '@moat/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function moat(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const configFor = (dir: string, resolver: string, keys: string) =>
  `policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\ndns:\n  resolver: "${resolver}"\nqueue:\n  dkim:\n${keys}`;

describe('moat dkim', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-dkim-'));
  let unbound: UnboundServer | undefined;
  afterAll(async () => unbound?.stop());

  it('keygen writes a 0600 key, prints the record and the config lines, and never replaces a key', () => {
    const r = moat(['dkim', 'keygen', 'Example.ORG', '--selector', 's1', '--dir', dir]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const file = join(dir, 'example.org.s1.pem');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(r.out).toContain('s1._domainkey.example.org. 3600 IN TXT ( "v=DKIM1; k=rsa; p=');
    expect(r.out).toContain(`- { domain: example.org, selector: s1, key: ${file} }`);
    const again = moat(['dkim', 'keygen', 'example.org', '--selector', 's1', '--dir', dir]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('exists: choose another --selector');
    const ed = moat(['dkim', 'keygen', 'example.org', '--selector', 's2', '--ed25519', '--dir', dir, '--json']);
    expect(ed.code).toBe(0);
    expect(JSON.parse(ed.out)).toMatchObject({ domain: 'example.org', selector: 's2', type: 'ed25519', record: { name: 's2._domainkey.example.org', type: 'TXT' } });
    expect(moat(['dkim', 'keygen', 'not a domain', '--dir', dir]).code).toBe(2);
  });

  it('check says which published records match, through the configured resolver', async () => {
    const s1 = JSON.parse(moat(['dkim', 'keygen', 'sender.test', '--selector', 'a', '--dir', dir, '--json']).out);
    const s2 = JSON.parse(moat(['dkim', 'keygen', 'sender.test', '--selector', 'b', '--ed25519', '--dir', dir, '--json']).out);
    const s3 = JSON.parse(moat(['dkim', 'keygen', 'sender.test', '--selector', 'c', '--dir', dir, '--json']).out);
    const other = JSON.parse(moat(['dkim', 'keygen', 'other.test', '--selector', 'c', '--dir', dir, '--json']).out);
    unbound = await startUnbound({
      stubZones: {},
      localZones: { 'sender.test': 'static' },
      localData: [
        `${s1.record.name}. 60 IN TXT ${s1.record.strings.map((s: string) => `"${s}"`).join(' ')}`,
        `${s2.record.name}. 60 IN TXT "${s2.record.value}"`,
        // c: someone else's key at our selector
        `${s3.record.name}. 60 IN TXT ${other.record.strings.map((s: string) => `"${s}"`).join(' ')}`,
      ],
    });
    const file = join(dir, 'moat.yaml');
    writeFileSync(file, configFor(dir, unbound.server, [s1, s2].map((k) => `    - { domain: sender.test, selector: ${k.selector}, key: ${k.key} }\n`).join('')));
    const ok = moat(['dkim', 'check', '--config', file]);
    expect(ok.err).toBe('');
    expect(ok.out).toMatch(/a\._domainkey\.sender\.test\s+ok/);
    expect(ok.out).toMatch(/b\._domainkey\.sender\.test\s+ok/);
    expect(ok.code).toBe(0);
    writeFileSync(file, configFor(dir, unbound.server, [s1, s3].map((k) => `    - { domain: sender.test, selector: ${k.selector}, key: ${k.key} }\n`).join('') + `    - { domain: sender.test, selector: d, key: ${s1.key} }\n`));
    const bad = moat(['dkim', 'check', 'sender.test', '--config', file, '--json']);
    expect(bad.code).toBe(1);
    const byName = Object.fromEntries(JSON.parse(bad.out).records.map((r: { name: string; status: string; reason?: string }) => [r.name, r]));
    expect(byName['a._domainkey.sender.test']).toMatchObject({ status: 'ok' });
    expect(byName['c._domainkey.sender.test']).toMatchObject({ status: 'mismatch', reason: 'p= is another public key' });
    expect(byName['d._domainkey.sender.test']).toMatchObject({ status: 'missing' });
  });

  it('config check refuses a signing-table entry whose key is missing or not a key', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(join(dir, 'garbage.pem'), 'not a key\n');
    writeFileSync(file, configFor(dir, '127.0.0.1:53', `    - { domain: example.org, selector: s9, key: ${join(dir, 'absent.pem')} }\n    - { domain: example.org, selector: s8, key: garbage.pem, match: "*@example.org" }\n`));
    const r = moat(['config', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('queue.dkim[0].key: a readable PEM private key for s9._domainkey.example.org');
    expect(r.err).toContain('queue.dkim[1].key: an RSA or Ed25519 private key in PEM');
    expect(r.err).not.toContain('not a key');
  });
});

describe('npm run stack -- dkim keygen, and the test profile key (scripts/stack.mjs)', { timeout: 180_000 }, () => {
  it('writes through moat dkim keygen into DIR/dkim, names the path the mx reads, and keeps an existing key', async () => {
    const { dkimKeygen, STACK_DKIM_DIR } = await import('../../../scripts/stack.mjs');
    const dir = mkdtempSync(join(tmpdir(), 'moat-stack-dkim-'));
    const k = await dkimKeygen('example.org', { dir, selector: 's2', ed25519: true });
    expect(k.hostKey).toBe(join(dir, 'dkim', 'example.org.s2.pem'));
    expect(k.key).toBe(`${STACK_DKIM_DIR}/example.org.s2.pem`);
    expect(statSync(k.hostKey).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'dkim')).mode & 0o777).toBe(0o700);
    expect(k.record.name).toBe('s2._domainkey.example.org');
    expect(k.record.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]+=*$/);
    await expect(dkimKeygen('example.org', { dir, selector: 's2' })).rejects.toThrow(/exists/);
  });

  it('ensureTestDkim: one key, and the Unbound record made from that very key (again on every call)', async () => {
    const { ensureTestDkim } = await import('../../../scripts/stack.mjs');
    const { describePrivateKey, dkimRecord } = await import('@moat/dkim');
    const dir = mkdtempSync(join(tmpdir(), 'moat-stack-dkim-'));
    const first = await ensureTestDkim(dir);
    const pem = readFileSync(join(dir, 'dkim', 'moat.test.default.pem'), 'utf8');
    expect(first).toEqual(dkimRecord('moat.test', 'default', describePrivateKey(pem)));
    const again = await ensureTestDkim(dir);
    expect(again.value).toBe(first.value);
    const conf = readFileSync(join(dir, 'dns', 'dkim-default.moat.test.conf'), 'utf8');
    expect(conf).toContain(`local-data: '${first.name}. 300 IN TXT ${first.strings.map((s) => `"${s}"`).join(' ')}'`);
    expect(conf).not.toContain('PRIVATE');
  });
});
