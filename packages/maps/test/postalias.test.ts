// Differential test: alias_maps' hash:/lmdb: source files read as aliases(5), against Debian's postalias (which builds
// them for Postfix): the same entries, and the lines postalias skips with a warning refused. Skipped without postalias.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTables, TableError } from '../src/index.ts';

const POSTALIAS = '/usr/sbin/postalias';
const has = existsSync(POSTALIAS);
if (!has) console.warn('postalias.test: /usr/sbin/postalias is absent (Debian\'s postfix): the differential test is skipped');

const dir = mkdtempSync(join(tmpdir(), 'moat-postalias-'));
writeFileSync(join(dir, 'main.cf'), 'compatibility_level = 3.6\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What postalias stored: `postalias -s` after building the .db, minus its own signature records. */
function postaliasDump(file: string): { entries: Map<string, string>; warnings: string } {
  const build = spawnSync(POSTALIAS, ['-c', dir, `hash:${file}`], { encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
  const dump = spawnSync(POSTALIAS, ['-c', dir, '-s', `hash:${file}`], { encoding: 'utf8' });
  const entries = new Map<string, string>();
  for (const line of dump.stdout.split('\n')) {
    const m = /^(.*?):\t(.*)$/.exec(line);
    if (m && m[1] !== '@' && !m[1]!.startsWith('YP_')) entries.set(m[1]!, m[2]!);
  }
  return { entries, warnings: build.stderr };
}

/** postalias externalizes the value's RFC 822 tokens: runs of blanks become one, `,` is followed by one space. */
const tokens = (v: string) => v.replace(/\s*,\s*/g, ', ').replace(/\s+/g, ' ').trim();

describe.skipIf(!has)('alias_maps source files vs postalias (Debian Postfix)', () => {
  it('the entries postalias stores, names unquoted and folded, first duplicate kept', () => {
    const file = join(dir, 'aliases');
    writeFileSync(file, '# comment\nBob: alice@example.org\n"john doe": jd,\n  other\npostmaster:root\n"q:x": y\nbob: second\nlist: a, b,c\n  , d\nMAILER-DAEMON: postmaster\nroot: alice (the admin)\nlist2: carol, (x) dave\n');
    const theirs = postaliasDump(file);
    const t = createTables({ baseDir: dir }).open(`hash:${file}`, { source: 'postalias' });
    const ours = new Map(t.rows().map((r) => [r.key!, tokens(r.value)]));
    expect(ours).toEqual(theirs.entries);
    expect(theirs.warnings).toContain('duplicate entry: "bob"');
    expect(t.warnings.map((w) => w.line)).toEqual([7]);
    // postalias stores comments as written; local(8) drops them when it expands (splitAliasValue, @moat/address)
    expect(theirs.entries.get('root')).toBe('alice (the admin)');
    expect(t.lookup('list2')).toBe('carol, (x) dave');
  });
  for (const [what, line] of [
    ['a name with a domain', 'x@y: z'],
    ['two names', 'a, b: c'],
    ['no colon', 'nocolon value'],
    ['no value', 'empty:'],
  ] as const) {
    it(`${what} (${line}): postalias skips it with a warning, moat refuses the file naming the line`, () => {
      const file = join(dir, `bad-${what.replace(/\W+/g, '-')}`);
      writeFileSync(file, `ok: fine\n${line}\n`);
      expect(postaliasDump(file).warnings).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, line 2: (name must be local|need name:value pair)`));
      expect(() => createTables({ baseDir: dir }).open(`hash:${file}`, { source: 'postalias' })).toThrow(TableError);
    });
  }
});
