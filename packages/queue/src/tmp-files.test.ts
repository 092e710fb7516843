import { spawnSync } from 'node:child_process';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpDir } from '@moat/testkit';
import { expect, it } from 'vitest';
import { HOST_TAG, pidAlive, sweepTmp, tmpName, writerOf } from './tmp-files.ts';

it('names carry the writer, and the writer is read back', () => {
  const n = tmpName('1BQZ4K7HG3ABCDEFGHJ', 'draft');
  expect(writerOf(n)).toEqual({ host: HOST_TAG, pid: process.pid });
  expect(writerOf('1BQZ4K7HG3ABCDEFGHJ')).toBeUndefined();
  expect(pidAlive(process.pid)).toBe(true);
});

it('removes a dead writer\'s file at once, keeps a live writer\'s however old, judges the rest by age', async () => {
  const dir = await tmpDir('sweep');
  // a pid that surely is dead: a child that has exited (and been reaped)
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  const names = {
    dead: `AAA.${HOST_TAG}.${dead}`,
    live: `BBB.${HOST_TAG}.${process.pid}.draft`,
    otherHost: `CCC.elsewhere.${dead}`,
    oldLegacy: 'DDD',
    newLegacy: 'EEE',
  };
  for (const n of Object.values(names)) await writeFile(join(dir.path, n), 'x');
  const old = (Date.now() - 2 * 3600_000) / 1000;
  await utimes(join(dir.path, names.live), old, old);
  await utimes(join(dir.path, names.oldLegacy), old, old);
  const removed = await sweepTmp(dir.path, { writer: writerOf });
  expect(removed.sort()).toEqual([names.dead, names.oldLegacy].sort());
  expect((await readdir(dir.path)).sort()).toEqual([names.live, names.otherHost, names.newLegacy].sort());
  await dir.remove();
});
