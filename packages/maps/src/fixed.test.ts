import { describe, expect, it } from 'vitest';
import { parseFixedTable } from './fixed.ts';
import { TableError } from './types.ts';

describe('fixed-string tables (texthash, hash source)', () => {
  it('folds keys in the file and in lookups, keeps values as written', () => {
    const t = parseFixedTable('User@Example.COM  Some Value\n@example.net  catch\n', 'f');
    expect(t.lookup('user@example.com')).toBe('Some Value');
    expect(t.lookup('USER@EXAMPLE.COM')).toBe('Some Value');
    expect(t.lookup('@EXAMPLE.NET')).toBe('catch');
    expect(t.lookup('example.net')).toBeUndefined();
    expect(t.entries).toBe(2);
  });

  it('keeps quotes and backslashes in the key, as postmap stores it', () => {
    const t = parseFixedTable('"a b"@x  quoted\nc\\ d  escaped\n', 'f');
    expect(t.lookup('"a b"@x')).toBe('quoted');
    expect(t.lookup('c\\ d')).toBe('escaped');
    expect(t.lookup('c d')).toBeUndefined();
  });

  it('keeps the first of duplicate keys, with a warning naming both lines', () => {
    const t = parseFixedTable('k first\nK second\nalias: x\n', 'f');
    expect(t.lookup('k')).toBe('first');
    expect(t.warnings).toEqual([
      { line: 2, message: 'duplicate entry (first seen on line 1): the first one is kept' },
      { line: 3, message: 'record is in "key: value" format; is this an alias file?' },
    ]);
  });

  it('refuses a key without a value, an unbalanced quote and an orphan continuation, naming file and line', () => {
    for (const [text, line] of [
      ['a b\nkeyonly\n', 2],
      ['a b\n"open value\n', 2],
      [' orphan x\n', 1],
    ] as const) {
      const e = (() => {
        try {
          parseFixedTable(text, '/etc/postfix/access');
        } catch (err) {
          return err as TableError;
        }
      })();
      expect(e).toBeInstanceOf(TableError);
      expect(e).toMatchObject({ code: 'TABLE_SYNTAX', file: '/etc/postfix/access', line });
      expect(e!.message).toMatch(new RegExp(`^/etc/postfix/access:${line}: `));
    }
  });

  it('looks up 10,000 entries from one Map (no scan)', () => {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(`user${i}@example.org  user${i}@mail.example.org`);
    const t = parseFixedTable(lines.join('\n'), 'f');
    expect(t.entries).toBe(10_000);
    expect(t.lookup('USER9999@example.org')).toBe('user9999@mail.example.org');
  });
});
