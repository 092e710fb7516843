import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { certFiles, writeAtomic } from './store.ts';

const root = mkdtempSync(join(tmpdir(), 'moat-acme-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeAtomic (the ACME state files)', () => {
  it('a key left world-readable (0644) is 0600 again after the next write; the chain keeps the 0644 it is given', async () => {
    const files = certFiles(join(root, 'acme'));
    await writeAtomic(files.key, 'KEY1\n');
    await writeAtomic(files.accountKey, 'ACCOUNT1\n');
    chmodSync(files.key, 0o644);
    chmodSync(files.accountKey, 0o644);
    await writeAtomic(files.key, 'KEY2\n');
    await writeAtomic(files.accountKey, 'ACCOUNT2\n');
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(statSync(files.accountKey).mode & 0o777).toBe(0o600);
    writeFileSync(files.cert, 'old\n', { mode: 0o600 });
    await writeAtomic(files.cert, 'CERT\n', 0o644);
    expect(statSync(files.cert).mode & 0o777).toBe(0o644);
  });
});
