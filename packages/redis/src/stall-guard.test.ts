import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisServer, startRedis } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from './index.ts';
import { stallGuard } from './stall-guard.ts';
import { withTimeout } from './timeout.ts';

let redis: RedisServer;
let proxy: net.Server;
/** Connections the proxy relays; `frozen` ones swallow bytes both ways without closing (a dead host). */
const pairs: Array<{ frozen: boolean }> = [];

beforeAll(async () => {
  redis = await startRedis();
  proxy = net.createServer((c) => {
    const pair = { frozen: false };
    pairs.push(pair);
    const up = net.connect(redis.port, '127.0.0.1');
    c.on('data', (b) => pair.frozen || up.write(b));
    up.on('data', (b) => pair.frozen || c.write(b));
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  proxy?.close();
  await redis?.stop();
});

describe('stallGuard', () => {
  it('reconnects a client whose open connection stopped answering, and leaves a healthy one alone', async () => {
    const port = (proxy.address() as net.AddressInfo).port;
    const client = connectRedis({ url: `redis://127.0.0.1:${port}` }, { connectionName: 'stall-test', connectTimeoutMs: 1000 });
    let reconnects = 0;
    const guard = stallGuard(client, { afterMs: 300, onReconnect: () => reconnects++ });
    const call = async () => {
      try {
        await withTimeout(client.ping(), 100, () => new Error('timeout'));
        guard.ok();
        return true;
      } catch {
        guard.failed();
        return false;
      }
    };
    await new Promise((r) => client.once('ready', r));
    expect(await call()).toBe(true);
    // a failure followed by a success: no reconnect
    guard.failed();
    expect(await call()).toBe(true);
    await sleep(400);
    expect(reconnects).toBe(0);

    // the host goes silent: the socket stays open, every call times out
    for (const p of pairs) p.frozen = true;
    expect(await call()).toBe(false);
    expect(client.status).toBe('ready');
    let answered = false;
    for (let i = 0; i < 40 && !answered; i++) {
      await sleep(100);
      answered = await call();
    }
    expect(reconnects).toBe(1);
    expect(answered).toBe(true);
    expect(pairs.length).toBe(2);
    guard.close();
    client.disconnect();
  });
});

describe('keepConnecting (in connectRedis)', () => {
  it('connects again after an attempt that ended the client, and not after the caller closed it', async () => {
    const client = connectRedis({ url: redis.url }, { connectionName: 'keep-test', connectTimeoutMs: 1000 });
    await new Promise((r) => client.once('ready', r));
    // one connect attempt fails the way an aborted Sentinel resolution does: ioredis ends the client
    const connector = (client as unknown as { connector: { connect: (...a: unknown[]) => Promise<unknown> } }).connector;
    const real = connector.connect.bind(connector);
    let failed = 0;
    connector.connect = () => {
      connector.connect = real;
      failed++;
      return Promise.reject(new Error('Connection is closed.'));
    };
    client.on('error', () => undefined);
    const ended = new Promise((r) => client.once('end', r));
    client.disconnect(true);
    await ended;
    await new Promise((r) => client.once('ready', r));
    expect(failed).toBe(1);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await sleep(1500);
    expect(client.status).toBe('end');
  });
});
