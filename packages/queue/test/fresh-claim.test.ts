// A draft adopted into incoming/ is claimed from memory (spool/fresh.ts): the claim must equal what the file on
// disk decodes to, and a queue file rewritten since (a new file) must be read from disk, never from memory.
import { open, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { decodeQueueFile, openQueue, type Queue } from '../src/index.ts';
import { encode } from '../src/record.ts';
import { memoryLogger } from './helpers.ts';

let dir: { path: string; remove(): Promise<void> };
let queue: Queue;
beforeEach(async () => {
  dir = await tmpDir('fresh');
  queue = await openQueue({ dir: dir.path, logger: memoryLogger().logger, registry: createRegistry() });
});
afterEach(async () => {
  await queue.close();
  await dir.remove();
});

async function adopted(body: string): Promise<string> {
  const d = await queue.draft();
  const raw = Buffer.from(`Subject: hi\r\n\r\n${body}`);
  await d.append(raw);
  await d.flushed();
  const head = Buffer.from('Subject: hi\r\nX-Rewritten: yes\r\n\r\n');
  const { id } = await queue.enqueue({ sender: 's@example.test', recipients: ['r@example.test'], prepend: ['Received: by test'], message: d.message(head, 15) });
  await d.discard();
  return id;
}

it('claims an adopted draft from memory, equal to the file as decoded from disk', async () => {
  const id = await adopted('body line\r\n.dot\r\n');
  const onDisk = decodeQueueFile(await readFile(join(dir.path, 'incoming', id)));
  const c = await queue.claim('incoming', id, 'o1');
  expect(c).not.toBeNull();
  expect(c!.envelope).toEqual(onDisk.envelope);
  expect(c!.message.equals(onDisk.message)).toBe(true);
  expect(c!.message.toString()).toBe('Received: by test\r\nSubject: hi\r\nX-Rewritten: yes\r\n\r\nbody line\r\n.dot\r\n');
});

it('does not reopen the file: bytes changed in place (same inode, size, mtime) are not seen', async () => {
  const id = await adopted('from memory\r\n');
  const path = join(dir.path, 'incoming', id);
  const want = decodeQueueFile(await readFile(path));
  const st = await stat(path);
  const fh = await open(path, 'r+');
  await fh.write(Buffer.from('XXXX'), 0, 4, st.size - 40); // inside the checksum: read from disk, the file is corrupt
  await fh.close();
  await utimes(path, st.atimeMs / 1000, st.mtimeMs / 1000);
  expect((await stat(path)).mtimeMs).toBe(st.mtimeMs);
  const c = await queue.claim('incoming', id, 'o1');
  expect(c!.message.equals(want.message)).toBe(true);
});

it('reads a queue file rewritten since adoption from disk (a new file), not the remembered one', async () => {
  const id = await adopted('original\r\n');
  const path = join(dir.path, 'incoming', id);
  const { envelope, message } = decodeQueueFile(await readFile(path));
  // an operator's rewrite (hold/release, a defer): a new file renamed over the name, same length
  const rewritten = Buffer.from(message.toString().replace('original', 'ORIGINAL'));
  await writeFile(join(dir.path, 'tmp', 'x'), encode({ ...envelope, meta: { rewritten: 'y' } }, rewritten));
  await rename(join(dir.path, 'tmp', 'x'), path);
  const c = await queue.claim('incoming', id, 'o1');
  expect(c!.message.toString()).toContain('ORIGINAL');
  expect(c!.envelope.meta).toEqual({ rewritten: 'y' });
});

it('serves a message from memory at most once: a second claim of the same id reads the disk', async () => {
  const id = await adopted('once\r\n');
  const c = await queue.claim('incoming', id, 'o1');
  await queue.unclaim(`${id}.o1`);
  const again = await queue.claim('incoming', id, 'o2');
  expect(again!.message.equals(c!.message)).toBe(true);
  expect(again!.envelope).toEqual(c!.envelope);
});

it('never serves a claim from deferred/ from memory, even when the file there is the same inode, size and mtime', async () => {
  const id = await adopted('kept in memory\r\n');
  const path = join(dir.path, 'incoming', id);
  const st = await stat(path);
  const fh = await open(path, 'r+');
  await fh.write(Buffer.from('XXXX'), 0, 4, st.size - 40); // read from disk, the file is corrupt
  await fh.close();
  await utimes(path, st.atimeMs / 1000, st.mtimeMs / 1000);
  await rename(path, join(dir.path, 'deferred', id));
  expect(await queue.claim('deferred', id, 'o1')).toBeNull(); // decoded from disk: corrupt, moved aside
  expect(await queue.names('corrupt')).toHaveLength(1);
});

it('forgets remembered messages on close', async () => {
  const id = await adopted('forgotten\r\n');
  expect(queue.freshSize?.(id)).toBeGreaterThan(0);
  await queue.close();
  expect(queue.freshSize?.(id)).toBeUndefined();
});
