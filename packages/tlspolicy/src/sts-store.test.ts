import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStsStore } from './sts-store.ts';

const root = mkdtempSync(join(tmpdir(), 'moat-sts-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fileStsStore', () => {
  it('every save leaves the policy file 0600 in a 0700 directory, even one made 0644 since', async () => {
    const dir = join(root, 'mta-sts');
    const entry = { id: 'one', policy: { mode: 'enforce' as const, mx: ['mx.example.test'], maxAge: 600 }, expires: Date.now() + 600_000 };
    await fileStsStore(dir).save('example.test', entry);
    const f = join(dir, 'example.test.json');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    chmodSync(f, 0o644);
    await fileStsStore(dir).save('example.test', { ...entry, id: 'two' });
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(await fileStsStore(dir).load('example.test')).toMatchObject({ id: 'two' });
  });
});
