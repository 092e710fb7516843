import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.ts';

const root = mkdtempSync(join(tmpdir(), 'moat-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('dirMode: makes the missing directory (and parents) with that mode, then the file; no temp file is left', async () => {
    const dir = join(root, 'state', 'acme');
    await writeFileAtomic(join(dir, 'privkey.pem'), 'KEY\n', { mode: 0o600, dirMode: 0o700 });
    expect(readFileSync(join(dir, 'privkey.pem'), 'utf8')).toBe('KEY\n');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'privkey.pem')).mode & 0o777).toBe(0o600);
    await writeFileAtomic(join(dir, 'fullchain.pem'), 'CERT\n', { mode: 0o644, dirMode: 0o700 });
    expect(statSync(join(dir, 'fullchain.pem')).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir).sort()).toEqual(['fullchain.pem', 'privkey.pem']);
  });

  it('without dirMode a missing directory is an error, and nothing is written', async () => {
    await expect(writeFileAtomic(join(root, 'absent', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(root)).not.toContain('absent');
  });

  it('replaces a symlinked file where it lives, keeping the link', async () => {
    writeFileSync(join(root, 'real'), 'old\n');
    symlinkSync(join(root, 'real'), join(root, 'link'));
    await writeFileAtomic(join(root, 'link'), 'new\n');
    expect(readFileSync(join(root, 'real'), 'utf8')).toBe('new\n');
    expect(readFileSync(join(root, 'link'), 'utf8')).toBe('new\n');
  });

  it('an explicit mode wins over the replaced file\'s: a 0644 key becomes 0600; without a mode the old one is kept', async () => {
    const key = join(root, 'key.pem');
    writeFileSync(key, 'OLD\n');
    chmodSync(key, 0o644);
    await writeFileAtomic(key, 'NEW\n', { mode: 0o600 });
    expect(readFileSync(key, 'utf8')).toBe('NEW\n');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    chmodSync(key, 0o640);
    await writeFileAtomic(key, 'NEWER\n');
    expect(statSync(key).mode & 0o777).toBe(0o640);
  });

  it('removes a crash\'s leftover temp file of the same name (writer dead, a minute old); keeps live writers\' and others\'', async () => {
    const dir = join(root, 'leftovers');
    mkdirSync(dir);
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const old = new Date(Date.now() - 3_600_000);
    const leftover = `.users.${dead}.0123abcd.tmp`;
    const live = `.users.${process.ppid}.0123abcd.tmp`;
    const fresh = `.users.${dead}.89abcdef.tmp`;
    const other = `.groups.${dead}.0123abcd.tmp`;
    for (const f of [leftover, live, fresh, other]) writeFileSync(join(dir, f), 'half');
    for (const f of [leftover, live, other]) utimesSync(join(dir, f), old, old);
    await writeFileAtomic(join(dir, 'users'), 'x\n');
    expect(readdirSync(dir).sort()).toEqual([other, fresh, live, 'users'].sort());
  });
});
