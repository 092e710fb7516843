import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { readBack } from './adopt.ts';

// A file of 1000 bytes whose reads return at most 7 bytes each (pread may return short; pipes, FUSE, signals).
const file = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
const shortReads = async (buf: Buffer, at: number, length: number, position: number) => {
  const n = Math.min(7, length, file.length - position);
  file.copy(buf, at, position, position + n);
  return { bytesRead: Math.max(0, n) };
};

it('keeps exactly the file bytes however short each read, and hashes the same bytes', async () => {
  const hash = createHash('sha256');
  const kept = await readBack(shortReads, 100, 900, hash, true);
  expect(kept?.equals(file.subarray(100, 900))).toBe(true);
  expect(hash.digest('hex')).toBe(createHash('sha256').update(file.subarray(100, 900)).digest('hex'));
});

it('without keep only hashes (nothing cached), and a file shorter than announced is an error', async () => {
  const hash = createHash('sha256');
  expect(await readBack(shortReads, 0, 1000, hash, false)).toBeUndefined();
  expect(hash.digest('hex')).toBe(createHash('sha256').update(file).digest('hex'));
  await expect(readBack(shortReads, 900, 1100, createHash('sha256'), true)).rejects.toThrow('shorter than announced');
});
