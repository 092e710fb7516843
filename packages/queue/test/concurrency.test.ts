// Several runners on one spool (two in this process with their own handles, one in a child process):
// the rename claim means no message is ever delivered twice, and nobody steals a live runner's files.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { expect, it } from 'vitest';
import { nextHopTransport, openQueue, startDelivery } from '../src/index.ts';
import { memoryLogger, message, startSink, waitFor } from './helpers.ts';

const N = 150;

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
  await sink.close();
  await dir.remove();
});

const runners: Awaited<ReturnType<typeof startDelivery>>[] = [];
