import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createDirSyncer } from './fsync.ts';

const openFds = async () => (await readdir('/proc/self/fd')).length;

it('a sync after close() still syncs but keeps no directory open', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fsync-'));
  try {
    const sync = createDirSyncer({ keepOpen: true });
    await sync(dir);
    await sync.close();
    const before = await openFds();
    await sync(dir);
    await sync(dir);
    expect(await openFds()).toBe(before);
  } finally {
    await rm(dir, { recursive: true });
  }
});
