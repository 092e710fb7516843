// The draft's plain descriptor: every path (discard mid-write, after a write error, after an open that failed)
// frees it exactly once. Trusts /proc/self/fd (Linux) to count this process's descriptors.
import { closeSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDraft } from './draft.ts';

const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

/** Close the descriptor this process holds on `path` behind the draft's back: its next write fails (EBADF). */
async function closeUnder(path: string): Promise<void> {
  for (const n of await readdir('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${n}`) === path) return closeSync(Number(n));
    } catch {
      // a descriptor closed while listing
    }
  }
  throw new Error(`no descriptor on ${path}`);
}
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moat-draft-'));
  await mkdir(join(dir, 'tmp'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('discarded while a write is in flight: waits for it, closes the descriptor once, removes the file', async () => {
  const before = await fds();
  const draft = await openDraft(dir);
  expect(await fds()).toBe(before + 1);
  const written = draft.append(Buffer.alloc(4 * 1024 * 1024, 0x61));
  await draft.discard();
  await written;
  expect(await fds()).toBe(before);
  expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  await draft.discard(); // idempotent
  expect(await fds()).toBe(before);
});

it('after a write error (its descriptor closed under it): the error is kept, later appends dropped, and discard frees the descriptor', async () => {
  const before = await fds();
  const draft = await openDraft(dir);
  await draft.append(Buffer.from('first\r\n'));
  await closeUnder(draft.path);
  await draft.append(Buffer.from('second\r\n'));
  await draft.append(Buffer.from('third\r\n'));
  expect(draft.error).toMatchObject({ code: 'EBADF' });
  await expect(draft.flushed()).rejects.toMatchObject({ code: 'EBADF' });
  await draft.discard(); // its close meets EBADF: nothing to free, not an error
  expect(await fds()).toBe(before);
  expect(await readdir(join(dir, 'tmp'))).toEqual([]);
});

it('dropped unwritten (a message over the size limit): discard before any append frees the descriptor', async () => {
  const before = await fds();
  const draft = await openDraft(dir);
  await draft.discard();
  expect(await fds()).toBe(before);
  expect(await readdir(join(dir, 'tmp'))).toEqual([]);
});

it('a failed open rejects (never throws synchronously) and holds no descriptor', async () => {
  const before = await fds();
  await rm(join(dir, 'tmp'), { recursive: true });
  await writeFile(join(dir, 'tmp'), 'not a directory');
  let opened: Promise<unknown> | undefined;
  expect(() => {
    opened = openDraft(dir);
  }).not.toThrow();
  await expect(opened).rejects.toMatchObject({ code: 'ENOTDIR' });
  expect(await fds()).toBe(before);
});

it('makes a missing tmp/ (the spool may not be open yet when the first DATA arrives)', async () => {
  await rm(join(dir, 'tmp'), { recursive: true });
  const draft = await openDraft(dir);
  expect(draft.path.startsWith(join(dir, 'tmp'))).toBe(true);
  await draft.discard();
});
