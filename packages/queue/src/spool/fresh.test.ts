import { expect, it } from 'vitest';
import { freshFiles } from './fresh.ts';

const entry = (n: number) => ({ json: '{}', message: Buffer.alloc(n), dev: 1, ino: 1, size: n, mtimeMs: 1, birthtimeMs: 1 });

it('keeps at most maxBytes, dropping the oldest first, and hands each entry out once', () => {
  const f = freshFiles(100);
  f.put('a', entry(40));
  f.put('b', entry(40));
  f.put('c', entry(40)); // over 100 with a: a goes
  expect(f.take('a')).toBeUndefined();
  expect(f.take('b')?.size).toBe(40);
  expect(f.take('b')).toBeUndefined();
  f.put('big', entry(200)); // larger than the whole budget: not kept
  expect(f.take('big')).toBeUndefined();
  expect(f.take('c')?.size).toBe(40);
});
