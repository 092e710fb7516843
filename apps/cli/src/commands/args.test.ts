import { describe, expect, it } from 'vitest';
import { parseArgs, resolverFlag, UsageError } from './args.ts';

describe('resolverFlag: --resolver read as dns.resolver is (@moat/dns parseResolver)', () => {
  const flag = (v?: string) => resolverFlag(parseArgs(v === undefined ? [] : ['--resolver', v], { values: ['resolver'] }), '127.0.0.1:53');
  it.each([
    ['127.0.0.1', '127.0.0.1:53'],
    ['127.0.0.1:5353', '127.0.0.1:5353'],
    ['::1', '[::1]:53'],
    ['[::1]', '[::1]:53'],
    ['[2001:db8::53]:5353', '[2001:db8::53]:5353'],
  ])('%s is %s', (v, server) => {
    expect(flag(v)).toBe(server);
  });
  it('absent: the configured resolver', () => {
    expect(flag()).toBe('127.0.0.1:53');
  });
  it.each(['localhost', 'unbound:53', '127.0.0.1:0', '127.0.0.1:x'])('%s is a usage error naming the flag', (v) => {
    expect(() => flag(v)).toThrow(UsageError);
    expect(() => flag(v)).toThrow(/^--resolver: /);
  });
});
