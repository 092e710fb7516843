// The prefix's hash tag as Redis Cluster reads it (first `{`, first `}` after it, non-empty between).
import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFIX, prefixHashTag } from './keys.ts';

describe('prefixHashTag', () => {
  it('finds the tag Redis Cluster hashes every key by', () => {
    expect(prefixHashTag(DEFAULT_PREFIX)).toBe('journal');
    expect(prefixHashTag('mx1:{j}:')).toBe('j');
    expect(prefixHashTag('{a}{b}')).toBe('a');
  });

  it('has none when the keys would hash by their own names', () => {
    expect(prefixHashTag('custom:')).toBeUndefined();
    expect(prefixHashTag('moat:{}:')).toBeUndefined(); // empty: Redis hashes the whole key
    expect(prefixHashTag('moat:{journal:')).toBeUndefined(); // unclosed: a session id could close it
    expect(prefixHashTag('moat:}{x')).toBeUndefined();
  });
});
