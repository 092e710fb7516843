import { describe, expect, it } from 'vitest';
import { parseAliasTable } from './aliases.ts';
import { TableError } from './types.ts';

describe('parseAliasTable (aliases(5), as postalias reads it)', () => {
  it('name: value, names unquoted and folded, continuation lines joined, comments skipped, first duplicate kept', () => {
    const t = parseAliasTable('# the admin\'s aliases\nBob: alice@example.org\n"john doe": jd,\n  other\npostmaster:root\n"q:x": y\nbob: second\n', 'aliases');
    expect(t.lookup('bob')).toBe('alice@example.org');
    expect(t.lookup('JOHN DOE')).toMatch(/^jd,\s+other$/);
    expect(t.lookup('postmaster')).toBe('root');
    expect(t.lookup('q:x')).toBe('y');
    expect(t.lookup('bob:')).toBeUndefined();
    expect(t.values().map((v) => [v.key, v.line])).toEqual([
      ['bob', 2],
      ['john doe', 3],
      ['postmaster', 5],
      ['q:x', 6],
    ]);
    expect(t.warnings).toEqual([{ line: 7, message: 'duplicate entry (first seen on line 2): the first one is kept' }]);
  });
  it.each([
    ['x@y: z', 'name must be local and have no domain'],
    ['a%b: z', 'name must be local and have no domain'],
    ['a, b: c', 'need name:value pair (one name before the ":")'],
    ['nocolon value', 'need name:value pair'],
    ['postmaster alice', 'looks like postmap format: write `name: value` (aliases(5), as postalias reads alias_maps files), or use texthash:'],
    ['empty:', 'need name:value pair'],
    [': value', 'need name:value pair'],
    ['"open: x', 'unbalanced'],
  ])('%j is an error naming its line (postalias skips it with a warning)', (line, why) => {
    try {
      parseAliasTable(`ok: fine\n${line}\n`, '/etc/aliases');
      throw new Error('accepted');
    } catch (e) {
      if (!(e instanceof TableError)) throw e;
      expect(e).toMatchObject({ code: 'TABLE_SYNTAX', file: '/etc/aliases', line: 2 });
      expect(e.message).toContain(why);
    }
  });
  it('a quoted name may hold @ and blanks', () => {
    expect(parseAliasTable('"a@b": c\n', 'f').lookup('a@b')).toBe('c');
  });
});
