import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, spawnDaemon, tmpDir, waitForPort } from './process.ts';

describe('process plumbing', () => {
  it('finds a free port and waits for a listener on it', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const srv = createServer().listen(port, '127.0.0.1');
    try {
      await waitForPort(port);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    await expect(waitForPort(port, '127.0.0.1', 100)).rejects.toThrow(/nothing listens/);
  });

  it('stops a daemon that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const d = spawnDaemon('sh', ['-c', 'trap "" TERM; echo up; while :; do sleep 0.05; done']);
    while (!d.output().includes('up')) await new Promise((r) => setTimeout(r, 10));
    await d.stop(200);
    expect(d.process.signalCode).toBe('SIGKILL');
  });

  it('makes and removes a temp dir', async () => {
    const dir = await tmpDir('t');
    expect(dir.path).toMatch(/moat-t-/);
    await dir.remove();
  });
});
