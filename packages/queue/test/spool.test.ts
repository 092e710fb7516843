// The spool's enqueue contract: durable before it resolves, streams accepted, bad input refused without leftovers.
import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { decodeQueueFile, HOST_TAG, openQueue, type Queue, QueueErrorCodes } from '../src/index.ts';
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

it('records a hold (the quarantine seam) in the envelope meta, beside the caller\'s meta', async () => {
  const { id } = await queue.enqueue({
    sender: 'a@example.test',
    recipients: ['b@example.test'],
    message: Buffer.from('Subject: s\r\n\r\nbody\r\n'),
    meta: { client: '192.0.2.1' },
    hold: { check: 'spamassassin', reason: 'score 7.0, quarantine at 6.0, reject at 10.0', score: 7 },
  });
  const { envelope } = decodeQueueFile(await readFile(join(dir.path, 'incoming', id)));
  expect(envelope.meta).toEqual({ client: '192.0.2.1', hold_check: 'spamassassin', hold_reason: 'score 7.0, quarantine at 6.0, reject at 10.0', hold_score: '7' });
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

it('enqueues a draft: the first route adopts it (no copy), the next copies its body; the draft stays the caller\'s', async () => {
  const draft = await queue.draft();
  expect(draft.path.startsWith(join(dir.path, 'tmp'))).toBe(true);
  for (const piece of ['X-Spam-Flag: YES\r\n', 'Subject: s\r\n\r\n', 'body 1\r\n', 'body 2\r\n']) void draft.append(Buffer.from(piece));
  await draft.flushed();
  const skip = 'X-Spam-Flag: YES\r\nSubject: s\r\n'.length;
  // read back as received (until the first enqueue adopts the draft as its queue file)
  const back: Buffer[] = [];
  for await (const b of draft.read()) back.push(b);
  expect(Buffer.concat(back).toString()).toBe('X-Spam-Flag: YES\r\nSubject: s\r\n\r\nbody 1\r\nbody 2\r\n');
  const m = draft.message(Buffer.from('Subject: s\r\n'), skip);
  const a = await queue.enqueue({ sender: 'a@b.test', recipients: ['x@example.test'], prepend: ['Received: r'], message: m, route: 'local' });
  const b = await queue.enqueue({ sender: 'a@b.test', recipients: ['y@example.test'], prepend: ['Received: r'], message: m, route: 'relay' });
  // the first queue file is the draft itself (one inode, two names until the draft is discarded)
  expect((await stat(join(dir.path, 'incoming', a.id))).ino).toBe((await stat(draft.path)).ino);
  expect((await stat(join(dir.path, 'incoming', b.id))).ino).not.toBe((await stat(draft.path)).ino);
  for (const id of [a.id, b.id]) {
    const { message } = decodeQueueFile(await readFile(join(dir.path, 'incoming', id)));
    expect(message.toString()).toBe('Received: r\r\nSubject: s\r\n\r\nbody 1\r\nbody 2\r\n');
  }
  await draft.discard();
  expect(await all()).toMatchObject({ tmp: [] });
});

it('refuses a draft that is larger than the limit, or no longer the length it was handed over with', async () => {
  const draft = await queue.draft();
  await draft.append(Buffer.alloc(2000, 0x61));
  await expect(queue.enqueue({ sender: '', recipients: ['x@example.test'], message: draft.message(Buffer.alloc(0), 0) })).rejects.toMatchObject({ code: QueueErrorCodes.EINVAL });
  await draft.discard();
  // a draft cut short (shorter than announced) is refused
  const short = await queue.draft();
  await short.append(Buffer.alloc(100, 0x62));
  const m = { ...short.message(Buffer.alloc(0), 0), size: 900 };
  await expect(queue.enqueue({ sender: '', recipients: ['x@example.test'], message: m })).rejects.toThrow(/expected 900|shorter/);
  await expect(queue.enqueue({ sender: '', recipients: ['x@example.test'], message: { ...m, file: '/etc/passwd' } })).rejects.toThrow(/outside this spool/);
  await short.discard();
  expect(await all()).toMatchObject({ tmp: [], incoming: [] });
});

it('at open, removes tmp/ files of dead writers and keeps a live writer\'s draft', async () => {
  const live = await queue.draft();
  await live.append(Buffer.from('still arriving'));
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  await writeFile(join(dir.path, 'tmp', `1BQZ4K7HG3ABCDEFGHJ.${HOST_TAG}.${dead}`), 'half a queue file');
  await writeFile(join(dir.path, 'tmp', `d0123456789abcdef.${HOST_TAG}.${dead}.draft`), 'half a message');
  const again = await openQueue({ dir: dir.path, logger: memoryLogger().logger, registry: createRegistry() });
  expect((await all()).tmp).toEqual([live.path.slice(live.path.lastIndexOf('/') + 1)]);
  await again.close();
  await live.discard();
});
