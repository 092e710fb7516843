// Operations through the CLI functions on a real spool: list, hold, release, flush, delete.
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { expect, it } from 'vitest';
import { formatList, queueCommand, queueList } from '../src/cli.ts';
import { closeCachedSessions, nextHopTransport, openQueue, startDelivery } from '../src/index.ts';
import { fakeClock, memoryLogger, message, startSink } from './helpers.ts';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await queueCommand(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

it('list, hold, release, flush and delete', async () => {
  const dir = await tmpDir('cli');
  const spool = join(dir.path, 'spool');
  let fail = true;
  const sink = await startSink({ onRcpt: () => (fail ? { code: 451, message: '4.3.0 not now' } : null) });
  const clock = fakeClock(Date.now());
  const registry = createRegistry();
  const queue = await openQueue({ dir: spool, clock, logger: memoryLogger().logger, registry });
  const runner = await startDelivery({
    queue,
    registry,
    clock,
    transports: { local: nextHopTransport({ host: '127.0.0.1', port: sink.port, heloName: 'mx.test' }) },
  });
  const a = await queue.enqueue({ sender: 'alice@sender.test', recipients: ['bob@example.test'], message: message('a', 'x') });
  const b = await queue.enqueue({ sender: '', recipients: ['carol@example.test', 'dan@example.test'], message: message('b', 'x') });
  await runner.idle();

  let r = await run(['--dir', spool, 'list']);
  expect(r.code).toBe(0);
  expect(r.out).toContain(a.id);
  expect(r.out).toContain('MAILER-DAEMON');
  expect(r.out).toContain('(451 4.3.0 not now)');
  expect(r.out).toMatch(/next retry: \d{4}-/);
  expect(r.out).toMatch(/-- \d+ Kbytes in 2 Requests\./);
  const json = JSON.parse((await run(['--dir', spool, '--json', 'list'])).out) as { id: string }[];
  json.sort((x, y) => (x.id === a.id ? -1 : y.id === a.id ? 1 : 0));
  expect(json).toMatchObject([
    { id: a.id, state: 'deferred', sender: 'alice@sender.test', recipients: [{ address: 'bob@example.test', state: 'pending' }] },
    { id: b.id, state: 'deferred', sender: '' },
  ]);

  r = await run(['--dir', spool, 'hold', a.id]);
  expect(r.out).toBe(`held 1 message(s): ${a.id}\n`);
  expect((await queueList(spool)).find((e) => e.id === a.id)?.state).toBe('hold');
  expect(formatList(await queueList(spool))).toContain(`${a.id}!`);

  // flush: deferred b becomes due now; the next hop accepts now
  fail = false;
  r = await run(['--dir', spool, 'flush']);
  expect(r.out).toBe('flushed 1 deferred message(s)\n');
  expect((await stat(join(spool, 'deferred', b.id))).mtimeMs).toBe(0);
  runner.kick(true);
  await runner.idle();
  expect(sink.messages.map((m) => m.recipients)).toEqual([['carol@example.test', 'dan@example.test']]);
  // the held one stays put until released
  expect((await queueList(spool)).map((e) => [e.id, e.state])).toEqual([[a.id, 'hold']]);
  r = await run(['--dir', spool, 'release', 'ALL']);
  expect(r.out).toBe(`released 1 message(s): ${a.id}\n`);
  await runner.idle();
  expect(sink.messages).toHaveLength(2);
  expect(await run(['--dir', spool, 'list'])).toMatchObject({ code: 0, out: 'Mail queue is empty\n' });

  // delete; and bad ids are refused before they touch the file system
  const c = await queue.enqueue({ sender: 'x@sender.test', recipients: ['y@example.test'], message: message('c', 'x'), route: 'relay' });
  await runner.idle(); // no relay transport: deferred
  expect(await run(['--dir', spool, 'delete', c.id])).toMatchObject({ code: 0, out: `deleted 1 message(s): ${c.id}\n` });
  expect(await run(['--dir', spool, 'delete', '../../etc/passwd'])).toMatchObject({ code: 1 });
  expect((await run(['--dir', spool, 'delete', '2383FX6CX2HLM67PLXY'])).err).toContain('not found');
  expect(await run(['--dir', spool, 'bogus'])).toMatchObject({ code: 2 });

  // runnable directly
  const direct = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli.ts'), '--dir', spool, 'list'], { encoding: 'utf8' });
  expect(direct.stdout).toBe('Mail queue is empty\n');
  expect(direct.status).toBe(0);

  await runner.stop();
  closeCachedSessions();
  await sink.close();
  await dir.remove();
});
