import { describe, expect, it } from 'vitest';
import { logicalLines } from './lines.ts';

describe('logicalLines (readllines)', () => {
  it('drops comments and blank lines, joins continuations as written, keeps the first line number', () => {
    const text = '# head\n\nkey value\n# between\n  more\n\n\tand more\n  # an indented comment is a comment\nnext x';
    expect(logicalLines(text)).toEqual([
      { text: 'key value  more\tand more', line: 3 },
      { text: 'next x', line: 9 },
    ]);
  });

  it('reports a continuation with nothing before it', () => {
    const orphans: number[] = [];
    expect(logicalLines('  orphan\n  still orphan\nk v\n', (l) => orphans.push(l))).toEqual([{ text: 'k v', line: 3 }]);
    expect(orphans).toEqual([1, 2]);
  });

  it('keeps a CR (whitespace to the parsers) and counts a last line without newline', () => {
    expect(logicalLines('a b\r\nc d')).toEqual([
      { text: 'a b\r', line: 1 },
      { text: 'c d', line: 2 },
    ]);
  });
});
