// The draft's plain descriptor: every path (discard mid-write, after a write error, after an open that failed)
// frees it exactly once. Trusts /proc/self/fd (Linux) to count this process's descriptors.
import type * as fs from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { DRAFT_RESERVE, openDraft } from './draft.ts';

/** The write failure a test injects into the draft's writev (node:fs as the draft imports it); undefined: real writes. */
const failing = vi.hoisted(() => ({ error: undefined as NodeJS.ErrnoException | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof fs>();
  const writev = (fd: number, buffers: NodeJS.ArrayBufferView[], pos: number | null, cb: (e: NodeJS.ErrnoException | null, n: number) => void) => {
    if (failing.error) return process.nextTick(cb, failing.error, 0);
    real.writev(fd, buffers, pos, (e, n) => cb(e, n));
  };
  return { ...real, writev };
});

const fds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moat-draft-'));
  await mkdir(join(dir, 'tmp'));
});
afterEach(async () => {
  failing.error = undefined;
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

it('after a write error (a full disk): the error is kept, later appends dropped, and discard frees the descriptor', async () => {
  const before = await fds();
  const draft = await openDraft(dir);
  await draft.append(Buffer.from('first\r\n'));
  failing.error = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  await draft.append(Buffer.from('second\r\n'));
  failing.error = undefined; // the disk has room again: the draft still drops what follows the error
  await draft.append(Buffer.from('third\r\n'));
  expect(draft.error).toMatchObject({ code: 'ENOSPC' });
  await expect(draft.flushed()).rejects.toMatchObject({ code: 'ENOSPC' });
  expect((await stat(draft.path)).size).toBe(DRAFT_RESERVE + 'first\r\n'.length); // the reserve, then the one chunk written
  await draft.discard();
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
