import { freePort, startRedis } from '@moat/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis, firstReadyGate } from './index.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('firstReadyGate (real redis-server)', () => {
  it('holds callers during a cold start with one listener, and releases them all when Redis comes up', async () => {
    const port = await freePort();
    const client = connectRedis({ url: `redis://127.0.0.1:${port}` }, { connectionName: 'gate-test', connectTimeoutMs: 1000 });
    client.on('error', () => {});
    cleanup.push(() => client.disconnect());
    const gate = firstReadyGate(client);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));

    // a burst of requests before Redis exists: none gives up early, none adds its own 'ready' listener
    const waiting = Array.from({ length: 50 }, () => gate(10_000).then(() => client.status));
    expect(client.listenerCount('ready')).toBeLessThanOrEqual(2);
    const server = await startRedis({ port });
    cleanup.push(() => server.stop());
    expect(new Set(await Promise.all(waiting))).toEqual(new Set(['ready']));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);

    // after the first connection the gate never waits (callers fail fast on their own command)
    const t0 = performance.now();
    await gate(10_000);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('gives up after the caller budget while Redis is still away', async () => {
    const client = connectRedis({ url: `redis://127.0.0.1:${await freePort()}` }, { connectionName: 'gate-test', connectTimeoutMs: 1000 });
    client.on('error', () => {});
    cleanup.push(() => client.disconnect());
    const gate = firstReadyGate(client);
    const t0 = performance.now();
    await gate(150);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(client.status).not.toBe('ready');
  });
});
