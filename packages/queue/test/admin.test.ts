// The admin operations (list, hold, release, flush, delete) on a real spool, and the read-only open:
// reading a spool never creates, recovers or changes a file; a missing spool is an error naming its path.
import { chmod, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { expect, it } from 'vitest';
import {
  closeCachedSessions,
  nextHopTransport,
  openQueue,
  openQueueReader,
  queueDelete,
  queueFlush,
  queueHold,
  queueList,
  queueRelease,
  startDelivery,
} from '../src/index.ts';
import { fakeClock, memoryLogger, message, startSink } from './helpers.ts';

it('list, hold, release, flush and delete', async () => {
  const dir = await tmpDir('admin');
  const spool = join(dir.path, 'spool');
  let fail = true;
  const sink = await startSink({ onRcpt: () => (fail ? { code: 451, message: '4.3.0 not now' } : null) });
  const clock = fakeClock(Date.now());
  const registry = createRegistry();
  const { logger } = memoryLogger();
  const queue = await openQueue({ dir: spool, clock, logger, registry });
  const runner = await startDelivery({
    queue,
    registry,
    clock,
    transports: { local: nextHopTransport({ host: '127.0.0.1', port: sink.port, heloName: 'mx.test' }) },
  });
  const a = await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('a', 'x') });
  const b = await queue.enqueue({ sender: '', recipients: ['carol@example.test', 'dan@example.test'], message: message('b', 'x') });
  await runner.idle();

  const listed = await queueList(spool);
  expect(listed.map((e) => [e.id, e.state, e.sender])).toEqual(
    [[a.id, 'deferred', 'alice@sender.test'], [b.id, 'deferred', '']].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
  );
  expect(listed.find((e) => e.id === a.id)).toMatchObject({ lastError: expect.stringContaining('451 4.3.0 not now'), recipients: [{ address: 'bob@example.test', state: 'pending' }] });

  expect(await queueHold(spool, [a.id], { logger })).toEqual([a.id]);
  expect((await queueList(spool)).find((e) => e.id === a.id)?.state).toBe('hold');

  // flush: deferred b becomes due now; the next hop accepts now
  fail = false;
  expect(await queueFlush(spool, undefined, { logger })).toBe(1);
  expect((await stat(join(spool, 'deferred', b.id))).mtimeMs).toBe(0);
  runner.kick(true);
  await runner.idle();
  expect(sink.messages.map((m) => m.recipients)).toEqual([['carol@example.test', 'dan@example.test']]);
  // the held one stays put until released
  expect((await queueList(spool)).map((e) => [e.id, e.state])).toEqual([[a.id, 'hold']]);
  expect(await queueRelease(spool, ['ALL'], { logger })).toEqual([a.id]);
  await runner.idle();
  expect(sink.messages).toHaveLength(2);
  expect(await queueList(spool)).toEqual([]);

  // delete; and bad ids are refused before they touch the file system
  const c = await queue.enqueue({ sender: 'x@sender.test', recipients: ['y@example.test'], message: message('c', 'x'), route: 'relay' });
  await runner.idle(); // no relay transport: deferred
  expect(await queueDelete(spool, [c.id], { logger })).toEqual([c.id]);
  await expect(queueDelete(spool, ['../../etc/passwd'], { logger })).rejects.toMatchObject({ code: 'EQUEUE_INVAL' });
  expect(await queueDelete(spool, ['2383FX6CX2HLM67PLXY'], { logger })).toEqual([]);

  await runner.stop();
  closeCachedSessions();
  await sink.close();
  await dir.remove();
});

it('reads without writing: a missing spool is an error naming it, and nothing is created', async () => {
  const dir = await tmpDir('reader');
  const missing = join(dir.path, 'nonexistent', 'spool');
  await expect(openQueueReader(missing)).rejects.toMatchObject({ code: 'EQUEUE_NOSPOOL', message: `no spool at ${missing}: no such directory` });
  await expect(queueList(missing)).rejects.toMatchObject({ code: 'EQUEUE_NOSPOOL' });
  expect(existsSync(join(dir.path, 'nonexistent'))).toBe(false);

  // The operations that write refuse a missing spool too: a mistyped --dir never becomes a new empty spool.
  for (const op of [() => queueFlush(missing), () => queueHold(missing, ['ALL']), () => queueRelease(missing, ['ALL']), () => queueDelete(missing, ['ALL'])]) {
    await expect(op()).rejects.toMatchObject({ code: 'EQUEUE_NOSPOOL' });
  }
  expect(existsSync(join(dir.path, 'nonexistent'))).toBe(false);

  // A directory that is not a spool (no state directories) is named, not shown as an empty queue.
  const plain = join(dir.path, 'plain');
  await mkdir(plain);
  await expect(queueList(plain)).rejects.toThrow(`${plain} is not a moat spool (no incoming/, active/, deferred/, hold/, corrupt/)`);
  expect(await readdir(plain)).toEqual([]);

  // A real spool with a stale tmp/ leftover: openQueue would remove it (crash recovery); the reader leaves it.
  const spool = join(dir.path, 'spool');
  const q = await openQueue({ dir: spool, logger: memoryLogger().logger, registry: createRegistry() });
  const m = await q.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message('m', 'x') });
  await q.close();
  const stale = join(spool, 'tmp', 'LEFTOVER');
  await writeFile(stale, 'half written');
  const old = (Date.now() - 2 * 3600_000) / 1000;
  await utimes(stale, old, old);
  const before = await snapshot(spool);
  const reader = await openQueueReader(spool);
  expect((await reader.list()).map((e) => e.id)).toEqual([m.id]);
  expect(await reader.names('incoming')).toEqual([m.id]);
  expect(await snapshot(spool)).toEqual(before);

  // Unreadable: named with the reason (root reads anything, so only checked as another user).
  if (process.getuid?.() !== 0) {
    await chmod(join(spool, 'deferred'), 0);
    await expect(queueList(spool)).rejects.toThrow(`cannot read spool ${join(spool, 'deferred')}: permission denied (EACCES)`);
    await chmod(join(spool, 'deferred'), 0o700);
  }
  await dir.remove();
});

/** Every path under dir with its size and mtime. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true })) {
    const st = await stat(join(dir, e));
    out.push(`${e} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}
