// `moat config check` on the seed's own main.cf (placeholders filled): loads, passes, and lists every
// main.cf key it ignores exactly once with its reason class; a value moat cannot honour fails with main.cf:line.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../packages/config/test/fixtures/', import.meta.url));

function moat(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('moat config check with postfix.main_cf', { timeout: 90_000 }, () => {
  it('the seed main.cf loads and passes; each ignored key is listed once, under its reason class', () => {
    // the seed's alias and virtual tables are the admin's files: here in a temp dir, on the same lines
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-seed-'));
    writeFileSync(join(dir, 'aliases'), 'postmaster: alice\nalice: alice@example.org\nprog: "|/usr/bin/prog"\nla: lb\nlb: la\n');
    writeFileSync(join(dir, 'virtual'), 'alice@example.net alice@example.org\n');
    copyFileSync(join(FIXTURES, 'seed-moat.yaml'), join(dir, 'seed-moat.yaml'));
    const seedText = readFileSync(join(FIXTURES, 'seed-main.cf'), 'utf8');
    writeFileSync(join(dir, 'seed-main.cf'), seedText.replaceAll('hash:/etc/aliases', `hash:${dir}/aliases`).replaceAll('hash:/etc/postfix/virtual', `hash:${dir}/virtual`));
    const r = moat(['config', 'check', join(dir, 'seed-moat.yaml')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('hostname: mx.example.org');
    expect(r.out).toContain('relay restrictions: permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination');
    expect(r.out).toContain('recipient restrictions: 22 (13 DNS list zones)');
    expect(r.out).toMatch(/postfix main\.cf .*seed-main\.cf: 23 keys take effect, 33 ignored/);
    const seed = readFileSync(join(FIXTURES, 'seed-main.cf'), 'utf8');
    const defined = new Set([...seed.matchAll(/^([A-Za-z0-9_]+)\s*=/gm)].map((m) => m[1]!));
    for (const name of defined) {
      // every key appears exactly once as used or ignored
      const hits = r.out.split('\n').filter((l) => new RegExp(`^\\s+(used: )?${name} \\(line \\d+\\)`).test(l));
      expect(hits, name).toHaveLength(1);
    }
    expect(r.out).toMatch(/ignored \[tls\] TLS: [^\n]*\n(\s+\S+ \(line \d+\)\n)*\s+smtpd_tls_CAfile \(line 22\)/);
    expect(r.out).toMatch(/ignored \[milter\][^\n]*\n(\s+\S+ \(line \d+\)\n)*\s+smtpd_milters \(line 77\)/);
    expect(r.out).toMatch(/warning: .*seed-main\.cf:77: smtpd_milters: the text after "#" is part of the value/);
    // the routing tables' findings, each with its own severity, at the entry's file:line
    expect(r.out).toMatch(/^error: \S+\/aliases:3: alias_maps prog: \|\/usr\/bin\/prog: moat does not deliver to commands/m);
    expect(r.out).not.toMatch(/^warning: \S+\/aliases:3: /m);
  });

  it('a table the main.cf names and that is not there fails the check, naming it', () => {
    const r = moat(['config', 'check', join(FIXTURES, 'seed-moat.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/routing\.virtual_alias_maps: a lookup table moat can open; found hash:\/etc\/postfix\/virtual: .*ENOENT/);
  });

  it('a value moat cannot honour fails with main.cf:line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-cli-'));
    copyFileSync(join(FIXTURES, 'seed-moat.yaml'), join(dir, 'moat.yaml'));
    writeFileSync(join(dir, 'seed-main.cf'), `${readFileSync(join(FIXTURES, 'seed-main.cf'), 'utf8')}smtpd_client_restrictions = permit_mynetworks, reject_rbl_client zen.spamhaus.org\n`);
    const r = moat(['config', 'check', join(dir, 'moat.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/seed-main\.cf:119:1: smtpd_client_restrictions: a list moat can express/);
  });
});
