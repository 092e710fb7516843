// The spool's enqueue contract: durable before it resolves, streams accepted, bad input refused without leftovers.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { decodeQueueFile, openQueue, type Queue, QueueErrorCodes } from '../src/index.ts';
import { fakeClock, memoryLogger } from './helpers.ts';

let dir: { path: string; remove(): Promise<void> };
let queue: Queue;
beforeEach(async () => {
  dir = await tmpDir('spool');
  queue = await openQueue({ dir: dir.path, clock: fakeClock(), logger: memoryLogger().logger, registry: createRegistry(), maxMessageSize: 1000 });
});
afterEach(async () => {
  await queue.close();
  await dir.remove();
});

async function all(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of ['tmp', 'incoming', 'active', 'deferred', 'hold', 'corrupt']) out[s] = await readdir(join(dir.path, s));
  return out;
}

it('stores a streamed message with its envelope, prepended headers and meta', async () => {
  const { id } = await queue.enqueue({
    sender: '',
    recipients: ['a@example.test', 'b@example.test'],
    prepend: ['Received: from x by y', 'X-Moat: yes'],
    message: Readable.from([Buffer.from('Subject: s\r\n'), Buffer.from('\r\nbody\r\n')]),
    meta: { client: '192.0.2.1', helo: 'x' },
    route: 'relay',
  });
  expect((await all()).incoming).toEqual([id]);
  const { envelope, message } = decodeQueueFile(await readFile(join(dir.path, 'incoming', id)));
  expect(message.toString()).toBe('Received: from x by y\r\nX-Moat: yes\r\nSubject: s\r\n\r\nbody\r\n');
  expect(envelope).toMatchObject({
    id,
    sender: '',
    route: 'relay',
    meta: { client: '192.0.2.1', helo: 'x' },
    attempts: 0,
    kind: 'mail',
    arrival: Date.UTC(2026, 0, 5, 12, 0, 0),
    recipients: [
      { address: 'a@example.test', state: 'pending' },
      { address: 'b@example.test', state: 'pending' },
    ],
  });
});

it('refuses bad envelopes, oversize and failing streams, leaving nothing behind', async () => {
  const bad = [
    { sender: 'a@b', recipients: [], message: Buffer.from('x') },
    { sender: 'a@b\r\nRCPT TO:<x>', recipients: ['c@d'], message: Buffer.from('x') },
    { sender: 'a@b', recipients: ['c@d>'], message: Buffer.from('x') },
    { sender: 'a@b', recipients: ['c@d'], prepend: ['X: a\r\nY: b'], message: Buffer.from('x') },
  ];
  for (const input of bad) await expect(queue.enqueue(input)).rejects.toMatchObject({ code: QueueErrorCodes.EINVAL });
  await expect(queue.enqueue({ sender: 'a@b', recipients: ['c@d'], message: Buffer.alloc(1001, 0x61) })).rejects.toThrow(/too large/);
  const failing = new Readable({
    read() {
      this.push(Buffer.from('Subject: half\r\n'));
      this.destroy(new Error('client went away'));
    },
  });
  await expect(queue.enqueue({ sender: 'a@b', recipients: ['c@d'], message: failing })).rejects.toThrow(/client went away/);
  expect(await all()).toEqual({ tmp: [], incoming: [], active: [], deferred: [], hold: [], corrupt: [] });
});

it('refuses new mail when the disk is nearly full (queue_minfree), but still queues DSNs', async () => {
  const tight = await openQueue({ dir: join(dir.path, 'tight'), logger: memoryLogger().logger, registry: createRegistry(), minFreeBytes: Number.MAX_SAFE_INTEGER });
  await expect(tight.enqueue({ sender: 'a@b', recipients: ['c@d'], message: Buffer.from('x\r\n') })).rejects.toMatchObject({
    code: QueueErrorCodes.ENOSPACE,
  });
  await expect(tight.enqueue({ sender: '', recipients: ['a@b'], message: Buffer.from('x\r\n') }, { kind: 'bounce' })).resolves.toHaveProperty('id');
});
