// Unit tests of the $name expander against Postfix's documented and observed semantics (mac_expand.c).
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix ${name} expansions are the subject here, not JS templates
import { describe, expect, it } from 'vitest';
import { ExpandError, expandValue } from './expand.ts';

const table: Record<string, string> = { host: 'mx.example.org', empty: '', a: '$b', b: 'B', level: '3.6', loop: '$loop' };
const x = (s: string) => expandValue(s, (n) => table[n]).value;

describe('expandValue (mac_expand)', () => {
  it('expands $name, ${name} and $(name), recursively', () => {
    expect(x('$host|${host}|$(host)|$a')).toBe('mx.example.org|mx.example.org|mx.example.org|B');
  });
  it('$$ is a literal dollar, also inside a conditional', () => {
    expect(x('$$host ${host?$$x}')).toBe('$host $x');
  });
  it('? and : test for a non-empty value; undefined counts as empty', () => {
    expect(x('[${host?y}][${host:n}][${empty?y}][${empty:n}][${nope?y}][${nope:n}]')).toBe('[y][][][n][][n]');
  });
  it('the 3.0 ternary keeps the braces\' inner blanks; the old form keeps colons', () => {
    expect(x('[${host?{ a }:{ b }}][${empty?{a}:{b}}][${host?a:b}]')).toBe('[ a ][b][a:b]');
  });
  it('relational operators: numeric when both sides are digits, else strcmp; <level compares compatibility levels', () => {
    expect(x('${{1} < {10}?{n}:{s}} ${{b} > {a}?{gt}} ${{$level} <level {2}?{old}:{new}} ${{3.10} >level {3.9}?{ok}}')).toBe('n gt new ok');
    expect(x('[${{x} == {x}}][${{x} == {y}}]')).toBe('[true][]');
  });
  it('records undefined names (expanded as empty)', () => {
    expect(expandValue('[$nope]', (n) => table[n])).toEqual({ value: '[]', undefinedNames: ['nope'] });
  });
  it('refuses what Postfix refuses', () => {
    for (const bad of ['${host', '$ 5', '${my-host}', '${host:{a}:{b}}', '${{a} =~ {b}}', '$loop', '${{a}'])
      expect(() => x(bad), bad).toThrow(ExpandError);
  });
});
