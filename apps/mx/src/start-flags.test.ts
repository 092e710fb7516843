import { readFileSync } from 'node:fs';
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

describe('wantedTunables: glibc malloc in one arena, and blocks from 32 KiB in their own mappings, unless the environment already says', () => {
  it('added, after the operator tunables already there', () => {
    expect(wantedTunables({})).toBe('glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=32768');
    expect(wantedTunables({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072' })).toBe(
      'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=32768',
    );
  });
  it('an operator value of their own wins, tunable by tunable', () => {
    expect(wantedTunables({ MALLOC_ARENA_MAX: '4' })).toBe('glibc.malloc.mmap_threshold=32768');
    expect(wantedTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=8' })).toBe('glibc.malloc.arena_max=8:glibc.malloc.mmap_threshold=32768');
    expect(wantedTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=8:glibc.malloc.mmap_threshold=131072' })).toBeUndefined();
    expect(wantedTunables({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536' })).toBeUndefined();
  });
});

describe('the image (compose/app/Dockerfile) gives every flag and tunable, so the MX starts once', () => {
  // the ENV line of the mx stage, split as Docker does (NAME=value pairs separated by spaces; no quotes used here)
  const dockerfile = readFileSync(new URL('../../../compose/app/Dockerfile', import.meta.url), 'utf8');
  const envLine = dockerfile.split('\n').find((l) => /^ENV .*NODE_OPTIONS=/.test(l));
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    (envLine ?? '')
      .replace(/^ENV /, '')
      .trim()
      .split(/\s+/)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  it('NODE_OPTIONS has the node flags and GLIBC_TUNABLES the tunables', () => {
    expect(envLine).toBeDefined();
    expect(missingFlags([], env.NODE_OPTIONS)).toEqual([]);
    expect(wantedTunables(env)).toBeUndefined();
  });
});

describe('wantedTunables parses GLIBC_TUNABLES (name=value:name=value), not substrings', () => {
  it('a value or a longer name that contains a tunable name does not count as it', () => {
    expect(wantedTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max_x=2:glibc.malloc.mmap_threshold=32768' })).toBe(
      'glibc.malloc.arena_max_x=2:glibc.malloc.mmap_threshold=32768:glibc.malloc.arena_max=1',
    );
    expect(wantedTunables({ GLIBC_TUNABLES: 'x.y=glibc.malloc.arena_max:glibc.malloc.mmap_threshold=1' })).toBe(
      'x.y=glibc.malloc.arena_max:glibc.malloc.mmap_threshold=1:glibc.malloc.arena_max=1',
    );
  });
});
