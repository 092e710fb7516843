import { describe, expect, it } from 'vitest';
import { lintAliases, lintTransportMaps } from './lint-aliases.ts';
import { memoryTable, patternTable, testSpec } from './test-tables.ts';
import type { ResolverSpec } from './types.ts';

const spec = (over: Partial<ResolverSpec> = {}): ResolverSpec => testSpec({ virtualAliasDomains: ['a.example', 'b.example'], ...over });

describe('lintAliases', () => {
  it('finds virtual alias loops, domain loops and fan-outs over the limit', () => {
    const t = memoryTable({
      'x@a.example': 'y@a.example',
      'y@a.example': 'x@a.example',
      '@b.example': '@c.example',
      '@c.example': '@b.example',
      'big@a.example': 'u1@r.example u2@r.example u3@r.example',
      'ok@a.example': 'ok@a.example, u@r.example',
      'fine@a.example': 'u@r.example',
    });
    const problems = lintAliases(spec({ virtualAliasMaps: [t], virtualAliasDomains: ['a.example', 'b.example', 'c.example'], virtualAliasExpansionLimit: 2 }));
    expect(problems.map((p) => [p.severity, p.key, p.message.split(':')[1]?.trim()])).toEqual([
      ['error', 'x@a.example', '5.4.6 Alias expansion error'],
      ['error', 'y@a.example', '5.4.6 Alias expansion error'],
      ['error', '@b.example', '5.4.6 Alias expansion error'],
      ['error', '@c.example', '5.4.6 Alias expansion error'],
      ['error', 'big@a.example', '5.4.6 Alias expansion error'],
    ]);
    expect(problems[0]?.message).toMatch(/virtual_alias_recursion_limit \(1000\)/);
    expect(problems[4]?.message).toMatch(/virtual_alias_expansion_limit \(2\)/);
  });
  it('finds local alias loops and what moat cannot deliver', () => {
    const t = memoryTable({ a: 'b', b: 'a', prog: '"|/usr/bin/vacation", x@r.example', list: ':include:/etc/list', fine: 'x@r.example' });
    const problems = lintAliases(spec({ aliasMaps: [t] }));
    expect(problems.filter((p) => p.severity === 'error').map((p) => p.key)).toEqual(['a', 'b', 'prog', 'list']);
    expect(problems.find((p) => p.key === 'a')?.message).toMatch(/5\.4\.6 alias database loop/);
  });
  it('says which tables it could not check', () => {
    const problems = lintAliases(spec({ virtualAliasMaps: [patternTable([[/^(.*)@a\.example$/, '$1@a.example']])] }));
    expect(problems).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringContaining('not checked') })]);
  });
});

describe('lintTransportMaps', () => {
  it('reports transports moat cannot deliver with', () => {
    const t = memoryTable({ 'a.example': 'uucp:x', 'b.example': 'smtp:[ok]:25', 'c.example': ':[ok]', 'd.example': 'maildir:', 'e.example': 'smtp:[bad' });
    expect(lintTransportMaps(spec({ transportMaps: [t] })).map((p) => p.key)).toEqual(['a.example', 'd.example', 'e.example']);
  });
  it('warns about error: entries whose status is not 5.x.x (Postfix bounces them as 5.0.0)', () => {
    const t = memoryTable({
      'a.example': 'error:4.2.0 later',
      'b.example': 'error:2.0.0 fine',
      'c.example': 'error:5.1.1 gone',
      'd.example': 'error:closed',
      'e.example': 'error:4.1.7 bad sender syntax',
    });
    const found = lintTransportMaps(spec({ transportMaps: [t] }));
    expect(found.map((p) => [p.key, p.severity])).toEqual([
      ['a.example', 'warning'],
      ['b.example', 'warning'],
      ['e.example', 'warning'],
    ]);
    expect(found[0]?.message).toMatch(/550 5\.2\.0 .*5\.0\.0/);
    // the status smtpd answers: smtpd_dsn_fix makes a sender's X.1.7 a recipient's X.1.3 (smtpd_dsn_fix.c's table)
    expect(found[2]?.message).toContain('refuses at RCPT with 550 5.1.3 and bounces at delivery with 5.0.0');
  });
  it('checks a static: table\'s one value (as key *); says a pattern table is not checked', () => {
    const stat = { spec: 'static:error:4.2.0 later', type: 'static' as const, pattern: false, lookup: () => 'error:4.2.0 later' };
    const pat = { spec: 'regexp:/etc/moat/transport', type: 'regexp' as const, pattern: true, lookup: () => undefined };
    const found = lintTransportMaps(spec({ transportMaps: [stat, pat] }));
    expect(found.map((p) => [p.table, p.key, p.severity])).toEqual([
      ['transport_maps static:error:4.2.0 later', '*', 'warning'],
      ['transport_maps regexp:/etc/moat/transport', '', 'warning'],
    ]);
    expect(found[0]?.message).toMatch(/550 5\.2\.0 .*5\.0\.0.*\(retry: defers\)/);
    expect(found[1]?.message).toMatch(/^not checked \(a pattern table/);
  });
  it('warns about retry: entries whose status is not 4.x.x (Postfix answers 450 4.x.x and defers as 4.0.0)', () => {
    const t = memoryTable({ 'a.example': 'retry:5.1.1 gone', 'b.example': 'retry:4.3.0 full', 'c.example': 'retry:', 'd.example': 'retry:2.0.0 fine' });
    const found = lintTransportMaps(spec({ transportMaps: [t] }));
    expect(found.map((p) => p.key)).toEqual(['a.example', 'd.example']);
    expect(found[0]?.message).toBe('retry:5.1.1 gone: retry: refuses at RCPT with 450 4.1.1 and defers at delivery with 4.0.0, as Postfix does; write a 4.x.x status (error: bounces)');
  });
});
