// Several runners on one spool (two in this process with their own handles, one in a child process):
// the rename claim means no message is ever delivered twice, and nobody steals a live runner's files.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, expect, it } from 'vitest';
import { closeCachedSessions, nextHopTransport, openQueue, startDelivery } from '../src/index.ts';
import { memoryLogger, message, startSink, waitFor } from './helpers.ts';

const N = 150;

// children are killed even when an assertion fails half-way
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

it('three runners (two processes) on one spool deliver each message exactly once', async () => {
  const dir = await tmpDir('multi');
  const spool = join(dir.path, 'spool');
  let inFlight = 0;
  let maxInFlight = 0;
  const sink = await startSink({
    dataDelayMs: 15,
    onRcpt: () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return null;
    },
    onData: () => {
      inFlight--;
      return null;
    },
  });
  const child = spawn(process.execPath, [join(import.meta.dirname, 'runner-child.ts'), spool, String(sink.port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let childOut = '';
  child.stdout.on('data', (d) => (childOut += d));
  child.stderr.on('data', (d) => (childOut += d));
  await waitFor(() => childOut.includes('ready'), 20_000);

  const hop = nextHopTransport({ host: '127.0.0.1', port: sink.port, heloName: 'parent.test' });
  const mk = async () => {
    const registry = createRegistry();
    const queue = await openQueue({ dir: spool, logger: memoryLogger().logger, registry });
    return startDelivery({ queue, registry, transports: { local: hop }, scanIntervalMs: 20, concurrency: 8 });
  };
  const a = await mk();
  const writer = await openQueue({ dir: spool, logger: memoryLogger().logger, registry: createRegistry() });
  for (let i = 0; i < N; i++) {
    await writer.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message(`multi ${i}`, `n=${i}`) });
    if (i === N / 2) runners.push(await mk()); // a runner that starts while others hold files in active/
  }
  await waitFor(async () => sink.messages.length >= N && (await writer.names('active')).length === 0, 60_000);
  await new Promise((r) => setTimeout(r, 300)); // give a would-be duplicate time to show up
  const subjects = sink.messages.map((m) => /Subject: (multi \d+)/.exec(m.data.toString())![1]!);
  expect(new Set(subjects).size).toBe(N);
  expect(subjects).toHaveLength(N);
  const helos = new Set(sink.messages.map((m) => m.helo));
  console.log(`multi-runner: ${N} messages, delivered by ${[...helos].join(' and ')}, max ${maxInFlight} concurrent sessions`);
  expect(helos.has('child.test')).toBe(true);
  expect(helos.has('parent.test')).toBe(true);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await a.stop();
  for (const r of runners) await r.stop();
  for (const s of ['incoming', 'active', 'deferred', 'corrupt'] as const) expect(await writer.names(s), s).toEqual([]);
  closeCachedSessions();
  await sink.close();
  await dir.remove();
});

const runners: Awaited<ReturnType<typeof startDelivery>>[] = [];

it('a runner SIGKILLed mid-delivery: the next runner recovers its active/ files, nothing is lost', async () => {
  const dir = await tmpDir('runner-crash');
  const spool = join(dir.path, 'spool');
  const sink = await startSink({ dataDelayMs: 400 });
  const writer = await openQueue({ dir: spool, logger: memoryLogger().logger, registry: createRegistry() });
  const M = 30;
  for (let i = 0; i < M; i++) {
    await writer.enqueue({ sender: 'a@sender.test', recipients: ['b@example.test'], message: message(`rc ${i}`, 'x') });
  }
  const child = spawn(process.execPath, [join(import.meta.dirname, 'runner-child.ts'), spool, String(sink.port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise((r) => child.once('exit', r));
  await waitFor(async () => (await writer.names('active')).length >= 8, 20_000);
  child.kill('SIGKILL');
  await exited;
  const orphaned = await writer.names('active');
  expect(orphaned.length).toBeGreaterThan(0);

  const mem = memoryLogger();
  const registry = createRegistry();
  const queue = await openQueue({ dir: spool, logger: mem.logger, registry });
  const runner = await startDelivery({ queue, registry, transports: { local: nextHopTransport({ host: '127.0.0.1', port: sink.port, heloName: 'mx.test' }) } });
  await runner.idle();
  await waitFor(() => sink.messages.length >= M, 20_000).catch(() => undefined);
  const subjects = sink.messages.map((m) => /Subject: (rc \d+)/.exec(m.data.toString())![1]!);
  const unique = new Set(subjects);
  const duplicates = subjects.length - unique.size;
  console.log(`runner crash: ${orphaned.length} files orphaned in active/ by the SIGKILL, all ${unique.size} messages delivered, ${duplicates} delivered twice (in flight at the kill: at-least-once)`);
  expect(unique.size).toBe(M);
  expect(duplicates).toBeLessThanOrEqual(orphaned.length);
  expect(mem.lines.filter((l) => l.msg === 'recovered message left in active/ by a dead runner')).toHaveLength(orphaned.length);
  for (const s of ['incoming', 'active', 'deferred', 'corrupt'] as const) expect(await queue.names(s), s).toEqual([]);
  await runner.stop();
  closeCachedSessions();
  await sink.close();
  await dir.remove();
});
