import { describe, expect, it } from 'vitest';
import { missingFlags, wantedTunables } from './start-flags.ts';

describe('missingFlags: the MX node flags not given on the command line or in NODE_OPTIONS', () => {
  it('`node main.js` (the image: the shebang is skipped) misses the young-generation cap', () => {
    expect(missingFlags([], undefined)).toEqual(['--max-semi-space-size=4']);
  });
  it('the shebang, NODE_OPTIONS or an operator value of their own: nothing added', () => {
    expect(missingFlags(['--max-semi-space-size=4'], undefined)).toEqual([]);
    expect(missingFlags([], '--require x.cjs --max-semi-space-size=2')).toEqual([]);
    expect(missingFlags(['--max_semi_space_size=16'], '')).toEqual([]);
    expect(missingFlags(['--max-semi-space-size', '8'], '')).toEqual([]);
  });
  it('other flags do not count', () => {
    expect(missingFlags(['--enable-source-maps', '--max-old-space-size=512'], '--max-semi')).toEqual(['--max-semi-space-size=4']);
  });
});

describe('wantedTunables: glibc malloc in one arena unless the environment already says', () => {
  it('added, after the operator tunables already there', () => {
    expect(wantedTunables({})).toBe('glibc.malloc.arena_max=1');
    expect(wantedTunables({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072' })).toBe('glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=1');
  });
  it('an operator value of their own wins', () => {
    expect(wantedTunables({ MALLOC_ARENA_MAX: '4' })).toBeUndefined();
    expect(wantedTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' })).toBeUndefined();
  });
});
