// The stack's config is a mounted directory (compose/config in production; here compose/config-e2e, the suite's
// git-ignored copy of config-test, so a killed run never leaves the tracked file edited): an edit that replaces
// moat.yaml with a new file (write a temporary file, rename it over: what sed -i and vim do) is seen by the
// running services, and `moat reload` re-reads the new file. A single-file mount kept the old inode.
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { execIn, stack } from './stack.ts';

const FILE = join(stack().configDir, 'moat.yaml');
let original: string | undefined;

/** Replaces moat.yaml as an editor does: a new file beside it, renamed over it (a new inode). */
async function replaceFile(text: string): Promise<void> {
  const before = (await stat(FILE)).ino;
  const tmp = `${FILE}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await chmod(tmp, 0o644);
  await rename(tmp, FILE);
  expect((await stat(FILE)).ino).not.toBe(before);
}

interface Report {
  target: string;
  outcome: string;
  error?: string;
}
async function reload(): Promise<Report[]> {
  const out = await execIn('mx', 'sh', '-c', 'node /usr/local/lib/moat/cli/main.js reload --json; true');
  return JSON.parse(out) as Report[];
}

afterAll(async () => {
  if (original !== undefined && (await readFile(FILE, 'utf8')) !== original) await replaceFile(original);
});

it('an edit that replaces moat.yaml (new inode) is what the next reload reads, in mx and policyd', async () => {
  original = await readFile(FILE, 'utf8');
  expect(original).toContain('    reject_missing_helo,\n');
  // a change the services must refuse: seen only if they read the new file
  await replaceFile(original.replace('    reject_missing_helo,\n', '    reject_inode_probe,\n    reject_missing_helo,\n'));
  expect(await execIn('mx', 'grep', '-c', 'reject_inode_probe', '/etc/moat/conf/moat.yaml')).toMatch(/^1/);
  const refused = await reload();
  expect(new Set(refused.map((r) => r.target))).toEqual(new Set(['mx', 'policyd']));
  for (const r of refused) {
    expect(r.outcome, JSON.stringify(r)).toBe('refused');
    expect(r.error, r.target).toContain('reject_inode_probe');
  }
  // put back the same way: read again and applied
  await replaceFile(original);
  const applied = await reload();
  for (const r of applied) expect(r, r.target).toMatchObject({ outcome: 'applied' });
});
