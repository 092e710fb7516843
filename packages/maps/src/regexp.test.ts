import { describe, expect, it } from 'vitest';
import { pcreToJs, posixToJs } from './regex-translate.ts';
import { parseRegexpTable } from './regexp.ts';

describe('regexp: tables (POSIX)', () => {
  const t = parseRegexpTable(
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Postfix's ${1}, not a template
      '/^(.*)@example\\.com$/ user=$1 (${1}) $$5',
      '/^(a)|(b)$/ [$1][$2]',
      '/Case/i case-sensitive',
      '/foo/!/foobar/ foo-not-foobar',
      'IF !/^keep/',
      '/^drop/ dropped',
      'ENDIF',
      '/^[[:digit:]]{,3}$/ few digits',
      '/[]x]y/ bracket',
    ].join('\n'),
    'f',
    'regexp',
  );

  it('is case-insensitive by default, substitutes $n, braced $n and $$, empty for an unmatched group', () => {
    expect(t.lookup('Joe@EXAMPLE.com')).toBe('user=Joe (Joe) $5');
    expect(t.lookup('b')).toBe('[][b]');
    expect(t.lookup('case')).toBeUndefined();
    expect(t.lookup('Case')).toBe('case-sensitive');
  });

  it('two patterns, IF/ENDIF with negation, POSIX classes and intervals', () => {
    expect(t.lookup('foo')).toBe('foo-not-foobar');
    expect(t.lookup('foobar')).toBeUndefined();
    expect(t.lookup('drop-me')).toBe('dropped');
    expect(t.lookup('keepdrop')).toBeUndefined();
    expect(t.lookup('12')).toBe('few digits');
    expect(t.lookup(']y')).toBe('bracket');
  });

  it('refuses what Postfix skips, and what JavaScript would read differently, naming the line', () => {
    for (const [line, msg] of [
      ['/(a)/ $2', /out-of-range replacement index \$2/],
      ['!/(a)/ $1', /negated/],
      ['/a/ $x', /non-numeric/],
      ['/a/ ${1', /truncated/],
      ['/a/ $', /no group number/],
      ['/a', /no closing delimiter/],
      ['/a/ ', /no replacement text/],
      ['/a/z x', /unknown regular expression flag "z"/],
      ['/a/x x', /POSIX basic/],
      ['/\\d/ x', /\\d has no meaning/],
      ['/(?:a)/ x', /'\(\?' is not a POSIX/],
      ['/^(a+?)/ $1', /a quantifier on a quantifier/],
      ['/a(/ x', /bad regular expression/],
      ['junk', /not a rule/],
      ['endif', /ENDIF without IF/],
      ['if /a/ extra', /text after the IF pattern/],
    ] as const) {
      expect(() => parseRegexpTable(`/ok/ ok\n${line}\n`, 'f', 'regexp'), line).toThrow(new RegExp(`f:2: .*${msg.source}`));
    }
    expect(() => parseRegexpTable('if /a/\n/b/ c\n', 'f', 'regexp')).toThrow(/f:1: IF has no matching ENDIF/);
  });

  it('a quantifier at the end of a pattern is no quantifier on a quantifier', () => {
    const t = parseRegexpTable('/^ab*/ x\n/^c+/ y\n/^d?$/ z\n', 'f', 'regexp');
    expect([t.lookup('abb'), t.lookup('cc'), t.lookup('')]).toEqual(['x', 'y', 'z']);
  });

  it('a pattern with catastrophic backtracking answers (V8 falls back to its linear engine)', () => {
    const key = `${'a'.repeat(60)}!`;
    expect(parseRegexpTable('/^(a+)+$/ x\n', 'f', 'regexp').lookup(key)).toBeUndefined();
    expect(parseRegexpTable('/^(a|aa)+$/ x\n', 'f', 'pcre').lookup(key)).toBeUndefined();
    expect(parseRegexpTable('/^(A|AA)+!$/ $1\n', 'f', 'regexp').lookup(key)).toBe('a');
  });

  it('folds ASCII case in the source: classes and ranges take the other case, non-ASCII stays exact', () => {
    const t = parseRegexpTable('/^[a-c]x[[:upper:]]$/ r\n/^é$/ e\n', 'f', 'regexp');
    expect([t.lookup('BXz'), t.lookup('bxZ'), t.lookup('dxz'), t.lookup('é'), t.lookup('É')]).toEqual(['r', 'r', undefined, 'e', undefined]);
    expect(parseRegexpTable('/^[^a]$/ r\n', 'f', 'regexp').lookup('A')).toBeUndefined();
    const p = parseRegexpTable('/^\\w[b-d]+(?=x)/ r\n/(?<n>q)\\k<n>/ named\n', 'f', 'pcre');
    expect([p.lookup('aBCx'), p.lookup('QQ')]).toEqual(['r', 'named']);
  });

  it('never puts the pattern into an error message', () => {
    expect(() => parseRegexpTable('/secret(/ x\n', 'f', 'regexp')).toThrow(/^(?!.*secret)/);
  });
});

describe('pcre: tables', () => {
  it('dotall and caseless by default, JavaScript syntax for the shared subset, flags toggle', () => {
    const t = parseRegexpTable(['/^a.b$/ dot', '/^\\d+$/ digits', '/(?P<u>\\w+)@x$/ named $1', '/A b/x extended', '/^anch/A anchored', '/Exact/i exact'].join('\n'), 'f', 'pcre');
    expect(t.lookup('a\nb')).toBe('dot');
    expect(t.lookup('123')).toBe('digits');
    expect(t.lookup('joe@X')).toBe('named joe');
    expect(t.lookup('ab')).toBe('extended');
    expect(t.lookup('anchor')).toBe('anchored');
    expect(t.lookup('exact')).toBeUndefined();
  });

  it('refuses constructs JavaScript lacks', () => {
    for (const re of ['a++', '(?>a)', '\\Qa\\E', '(?i)a', '(?R)', 'a{2}+', '\\K', '\\p{L}', '\\pL']) {
      expect(typeof pcreToJs(re, false), re).toBe('object');
    }
    expect(() => parseRegexpTable('/a/U x\n', 'f', 'pcre')).toThrow(/ungreedy/);
    expect(() => parseRegexpTable('/a/!/b/ x\n', 'f', 'pcre')).toThrow(/flag "!"/);
  });

  it('translates \\A \\z \\Z and POSIX classes', () => {
    expect(new RegExp(pcreToJs('\\Aab\\z', false) as string).test('ab')).toBe(true);
    expect(new RegExp(pcreToJs('ab\\Z', false) as string).test('ab\n')).toBe(true);
    expect(new RegExp(pcreToJs('[[:upper:]]', false) as string).test('Q')).toBe(true);
    expect(posixToJs('[a-]')).toBe('[a\\-]');
  });
});
