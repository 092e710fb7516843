import { describe, expect, it } from 'vitest';
import { parseInlineTable, parseStaticTable } from './inline.ts';

describe('inline: and static:', () => {
  it('inline: pairs separated by commas or spaces, braces for text with spaces, later keys win', () => {
    const t = parseInlineTable('{ a=1, B = 2 , {c = text with spaces }, d=x=y, {A=3} }'.replace('B = 2 ,', 'B=2,'));
    expect(t.lookup('a')).toBe('3');
    expect(t.lookup('b')).toBe('2');
    expect(t.lookup('C')).toBe('text with spaces');
    expect(t.lookup('d')).toBe('x=y');
    expect(t.entries).toBe(4);
  });

  it('inline: refuses a pair without =, an empty value, an empty table and unbalanced braces', () => {
    expect(() => parseInlineTable('{ a = b }')).toThrow(/missing '='/);
    expect(() => parseInlineTable('{ {a=} }')).toThrow(/empty value/);
    expect(() => parseInlineTable('{}')).toThrow(/empty table/);
    expect(() => parseInlineTable('{ , }')).toThrow(/empty table/);
    expect(() => parseInlineTable('{ a=b')).toThrow(/balanced/);
    expect(() => parseInlineTable('a=b')).toThrow(/balanced/);
  });

  it('static: every key gets the value; braces keep spaces', () => {
    expect(parseStaticTable('OK').lookup('anything')).toBe('OK');
    expect(parseStaticTable('{  REJECT go away }').lookup('x')).toBe('REJECT go away');
    expect(() => parseStaticTable('{ x')).toThrow(/static/);
    expect(() => parseStaticTable('{ }')).toThrow(/empty/);
  });
});
