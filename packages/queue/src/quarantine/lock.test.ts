// The quarantine lock within one process: concurrent actions on one held message never overlap.
// Trusts only its own temp spool (testkit tmpDir); no other process touches it.
import { mkdir, readdir, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { QueueErrorCodes } from '../errors.ts';
import { HOST_TAG } from '../tmp-files.ts';
import { createLocks, readSeen } from './lock.ts';

let spool: { path: string; remove(): Promise<void> };
beforeEach(async () => {
  spool = await tmpDir('quarantine-lock');
  await mkdir(join(spool.path, 'hold'));
  await mkdir(join(spool.path, 'tmp'));
});
afterEach(async () => {
  await spool.remove();
});

it('many concurrent withLock calls on one id in one process: never two holders at once', async () => {
  const locks = createLocks(spool.path);
  const ids = ['a', 'b', 'c', 'd'];
  const holders = new Map<string, number>();
  let most = 0;
  let won = 0;
  let busy = 0;
  const action = (id: string) => async () => {
    const n = (holders.get(id) ?? 0) + 1;
    holders.set(id, n);
    most = Math.max(most, n);
    won++;
    await new Promise<void>((r) => setImmediate(r));
    holders.set(id, (holders.get(id) ?? 1) - 1);
  };
  const attempt = (id: string) =>
    locks.withLock(id, action(id)).catch((e: { code?: string }) => {
      if (e.code !== QueueErrorCodes.EBUSY) throw e;
      busy++;
    });
  // six concurrent callers per id, each calling again as soon as its call settles
  const caller = async (id: string) => {
    for (let i = 0; i < 400; i++) await attempt(id);
  };
  await Promise.all(ids.flatMap((id) => Array.from({ length: 6 }, () => caller(id))));
  expect(most).toBe(1);
  expect(won).toBeGreaterThan(0);
  expect(won + busy).toBe(ids.length * 6 * 400);
}, 120_000);

it('readSeen pairs a lock text with that same file’s times while the lock is replaced by rename under it', async () => {
  const path = join(spool.path, 'hold', '.x.lock');
  const old = new Date(Date.now() - 60 * 60_000);
  // an old nonce-less lock of pid 1 and a fresh one of pid 2, renamed over the lock path in turns
  const write = async (n: number) => {
    const tmp = join(spool.path, 'tmp', `l${n}`);
    if (n % 2 === 0) {
      await writeFile(tmp, 'h 1\n');
      await utimes(tmp, old, old);
    } else await writeFile(tmp, `h 2 ${'ab'.repeat(8)}\n`);
    await rename(tmp, path);
  };
  await write(0);
  let stop = false;
  const writer = (async () => {
    for (let n = 1; !stop; n++) await write(n);
  })();
  const wrong: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const s = await readSeen(path);
    if (s === undefined) continue;
    if ((s.pid === 1) !== s.ageMs > 30 * 60_000) wrong.push(`pid ${s.pid} age ${s.ageMs}`);
  }
  stop = true;
  await writer;
  expect(wrong).toEqual([]);
}, 60_000);

it('a held lock is touched while its action runs, so a long action never looks stale by age', async () => {
  const locks = createLocks(spool.path, { refreshMs: 10 });
  const path = join(spool.path, 'hold', '.long.lock');
  await locks.withLock('long', async () => {
    const old = new Date(Date.now() - 60 * 60_000);
    await utimes(path, old, old);
    expect((await readSeen(path))?.ageMs).toBeGreaterThan(30 * 60_000);
    // the refresh brings it back to now (polled: no timing asserted)
    while (((await readSeen(path))?.ageMs ?? 0) > 30 * 60_000) await new Promise((r) => setTimeout(r, 5));
  });
  expect(await readdir(join(spool.path, 'hold'))).toEqual([]);
}, 60_000);

it('the refresh leaves alone a lock that is no longer its own', async () => {
  const locks = createLocks(spool.path, { refreshMs: 5 });
  const path = join(spool.path, 'hold', '.gone.lock');
  const other = `other-host 1 ${'cd'.repeat(8)}\n`;
  const old = new Date(Date.now() - 60 * 60_000);
  await locks.withLock('gone', async () => {
    // as if another host had taken it over: the refresh must not make that lock look fresh
    await writeFile(join(spool.path, 'tmp', 'o'), other);
    await utimes(join(spool.path, 'tmp', 'o'), old, old);
    await rename(join(spool.path, 'tmp', 'o'), path);
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
  });
  const s = await readSeen(path);
  expect(s?.host).toBe('other-host');
  expect(s?.ageMs).toBeGreaterThan(30 * 60_000);
}, 60_000);

it('the sweep removes a claim only when its lock is gone or replaced, never when the lock cannot be read', async () => {
  const hold = (n: string) => join(spool.path, 'hold', n);
  const key = 'ef'.repeat(8);
  // unreadable lock (a directory: open works, reading fails with EISDIR, as EMFILE or EACCES would fail)
  await mkdir(hold('.unreadable.lock'));
  await writeFile(hold(`.unreadable.lock.${key}.0.claim`), `h 999999999 ${'01'.repeat(8)}\n`);
  // lock gone
  await writeFile(hold(`.gone.lock.${key}.0.claim`), `h 999999999 ${'02'.repeat(8)}\n`);
  // lock replaced (another key)
  await writeFile(hold('.moved.lock'), `other-host 1 ${'03'.repeat(8)}\n`);
  await writeFile(hold(`.moved.lock.${key}.0.claim`), `h 999999999 ${'04'.repeat(8)}\n`);
  await createLocks(spool.path).sweepLocks(await readdir(join(spool.path, 'hold')));
  expect((await readdir(join(spool.path, 'hold'))).sort()).toEqual(['.moved.lock', '.unreadable.lock', `.unreadable.lock.${key}.0.claim`]);
});

it('a stale lock whose every takeover claim is dead is reported (warn naming the files), and stays busy', async () => {
  const hold = (n: string) => join(spool.path, 'hold', n);
  const key = '05'.repeat(8);
  await writeFile(hold('.stuck.lock'), `${HOST_TAG} 999999999 ${key}\n`);
  for (let n = 0; n < 16; n++) await writeFile(hold(`.stuck.lock.${key}.${n}.claim`), `${HOST_TAG} 999999999 ${'06'.repeat(8)}\n`);
  const warned: { lock: string; claims: string[] }[] = [];
  const locks = createLocks(spool.path, { logger: { warn: (o: object) => warned.push(o as (typeof warned)[number]) } as never });
  await expect(locks.withLock('stuck', async () => undefined)).rejects.toMatchObject({ code: QueueErrorCodes.EBUSY });
  expect(warned).toHaveLength(1);
  expect(warned[0]?.lock).toBe(hold('.stuck.lock'));
  expect(warned[0]?.claims).toHaveLength(16);
  expect(warned[0]?.claims[15]).toBe(`.stuck.lock.${key}.15.claim`);
  // the documented remedy: remove the lock; the sweep then removes the claims, and the id can be locked again
  await unlink(hold('.stuck.lock'));
  await locks.sweepLocks(await readdir(join(spool.path, 'hold')));
  expect(await readdir(join(spool.path, 'hold'))).toEqual([]);
  await locks.withLock('stuck', async () => undefined);
});
