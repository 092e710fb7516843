// The quarantine lock within one process: concurrent actions on one held message never overlap.
// Trusts only its own temp spool (testkit tmpDir); no other process touches it.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { QueueErrorCodes } from '../errors.ts';
import { createLocks } from './lock.ts';

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
