import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileConfig } from './compile.ts';
import { lintRoutingTables } from './lint-tables.ts';
import { parseConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-lint-tables-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const compiled = (routing: string) =>
  compileConfig(parseConfig(`policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nrouting:\n${routing}`, { env: {}, file: join(dir, 'moat.yaml') }));

describe('lintRoutingTables: transport_maps and alias lints over the opened tables', () => {
  it('checks every entry of file-backed tables (texthash, hash/lmdb sources), inline and static ones, at the entry\'s line', () => {
    writeFileSync(join(dir, 'transport'), '# comment\nok.example smtp:[relay.example]:25\nold.example error:4.2.0 later\nbusy.example retry:5.1.1 moved\n');
    for (const type of ['texthash', 'hash', 'lmdb']) {
      const found = lintRoutingTables(compiled(`  transport_maps: [${type}:${join(dir, 'transport')}]\n`).routing.spec);
      expect(found.map((f) => [f.where, f.param, f.key]), type).toEqual([
        [`${join(dir, 'transport')}:3`, 'transport_maps', 'old.example'],
        [`${join(dir, 'transport')}:4`, 'transport_maps', 'busy.example'],
      ]);
      expect(found[0]?.message).toBe('error:4.2.0 later: error: refuses at RCPT with 550 5.2.0 and bounces at delivery with 5.0.0, as Postfix does; write a 5.x.x status (retry: defers)');
    }
    const inline = lintRoutingTables(compiled('  transport_maps: ["inline:{ two.example=error:2.0.0 }", "static:{retry:5.7.1 not now}"]\n').routing.spec);
    expect(inline.map((f) => [f.where, f.key])).toEqual([
      ['inline:{ two.example=error:2.0.0 }', 'two.example'],
      ['static:{retry:5.7.1 not now}', '*'],
    ]);
  });
  it('says which tables it could not check (pattern tables)', () => {
    writeFileSync(join(dir, 'transport.re'), '/^x@/ error:4.2.0 later\n');
    const found = lintRoutingTables(compiled(`  transport_maps: [regexp:${join(dir, 'transport.re')}]\n`).routing.spec);
    expect(found).toEqual([{ severity: 'warning', param: 'transport_maps', where: join(dir, 'transport.re'), key: '', message: expect.stringMatching(/^not checked \(a pattern table/) }]);
  });
  it('finds alias loops in a listed virtual_alias_maps file', () => {
    writeFileSync(join(dir, 'virtual'), 'a@example.org b@example.org\nb@example.org a@example.org\n');
    const found = lintRoutingTables(compiled(`  virtual_alias_maps: [texthash:${join(dir, 'virtual')}]\n  virtual_alias_domains: [alias.example]\n`).routing.spec);
    expect(found.filter((f) => f.param === 'virtual_alias_maps').map((f) => f.where)).toEqual([`${join(dir, 'virtual')}:1`, `${join(dir, 'virtual')}:2`]);
  });
});

describe('alias_maps hash:/lmdb: files are read as aliases(5), as postalias builds them', () => {
  it('name: value resolves, also through local_recipient_maps = $alias_maps; texthash stays postmap\'s format', () => {
    writeFileSync(join(dir, 'aliases'), 'postmaster: alice@example.org\nbob: alice@example.org\nlist: "|/usr/bin/procmail"\n');
    const c = compiled(`  mydestination: [localhost]\n  alias_maps: [hash:${join(dir, 'aliases')}]\n  local_recipient_maps: [$alias_maps]\n`);
    const r = c.addressResolver.resolve('bob@localhost');
    expect(r.ok && r.recipients.map((x) => x.address)).toEqual(['alice@example.org']);
    expect(c.addressResolver.verify('nobody@localhost')).toMatchObject({ accepted: false, text: 'User unknown in local recipient table' });
    // and the alias lint reads it: a command target, at its line
    const found = lintRoutingTables(c.routing.spec).filter((f) => f.param === 'alias_maps');
    expect(found.map((f) => [f.where, f.key, f.severity])).toContainEqual([`${join(dir, 'aliases')}:3`, 'list', 'error']);
    writeFileSync(join(dir, 'aliases.txt'), 'bob alice@example.org\n');
    const t = compiled(`  mydestination: [localhost]\n  alias_maps: [texthash:${join(dir, 'aliases.txt')}]\n`).addressResolver.resolve('bob@localhost');
    expect(t.ok && t.recipients.map((x) => x.address)).toEqual(['alice@example.org']);
  });
});
