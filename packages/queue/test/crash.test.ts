// Crash test: a child that enqueues is SIGKILLed at random moments, many times. Afterwards every message
// it acknowledged is delivered exactly once, byte for byte, and nothing half-written ever surfaces.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, expect, it } from 'vitest';
import { maildirTransport, openQueue, startDelivery } from '../src/index.ts';
import { crashMessage } from './crash-message.ts';
import { memoryLogger } from './helpers.ts';

const live = new Set<ChildProcess>();
afterEach(() => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
});

const ROUNDS = 45;
const PER_ROUND = 10;

it('no acknowledged message is lost or duplicated across SIGKILLs', async () => {
  const dir = await tmpDir('crash');
  const spool = join(dir.path, 'spool');
  const acked = new Map<number, string>();
  let sent = 0;
  let kills = 0;
  let killedBeforeReady = 0;
  const child = join(import.meta.dirname, 'crash-child.ts');
  for (let round = 0; round < ROUNDS; round++) {
    const p = spawn(process.execPath, [child, spool, (['seq', 'par', 'draft'] as const)[round % 3]!], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(p);
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    const ready = new Promise<boolean>((resolve) => {
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready\n')) resolve(true);
      });
      exited.then(() => resolve(false));
    });
    // Every 8th round is killed while still starting up (opening the spool).
    if (round % 8 === 7) {
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      killedBeforeReady++;
    } else {
      expect(await ready, err).toBe(true);
      for (let i = 0; i < PER_ROUND; i++) p.stdin.write(`${sent++}\n`);
      // Kill somewhere between "nothing written yet" and "all acknowledged": after a random number of
      // acks (so the spread does not depend on how loaded the machine is), plus a little jitter.
      const k = Math.floor(Math.random() * PER_ROUND);
      const acks = () => (out.match(/^ack /gm) ?? []).length;
      const until = Date.now() + 3000;
      while (acks() < k && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, Math.random() * 4));
    }
    p.kill('SIGKILL');
    await exited;
    kills++;
    for (const m of out.matchAll(/^ack (\d+) (\S+)$/gm)) acked.set(Number(m[1]), m[2]!);
    expect(out).not.toMatch(/^err /m);
  }

  // Afterwards: one runner delivers whatever the queue holds into a maildir.
  const mem = memoryLogger();
  const registry = createRegistry();
  const queue = await openQueue({ dir: spool, logger: mem.logger, registry });
  const root = join(dir.path, 'mail');
  const runner = await startDelivery({ queue, transports: { local: maildirTransport({ root, hostname: 'mx.test' }) }, registry });
  await runner.idle();
  await runner.stop();

  const box = join(root, 'example.test', 'box', 'new');
  const files = await readdir(box).catch(() => [] as string[]);
  const delivered = new Map<number, number>();
  const head = Buffer.from('Return-Path: <crash@sender.test>\r\nDelivered-To: box@example.test\r\n');
  for (const f of files) {
    const data = await readFile(join(box, f));
    const n = Number(/X-Crash-N: (\d+)/.exec(data.toString('latin1'))?.[1]);
    expect(Number.isInteger(n) && n < sent, `unexpected file ${f}`).toBe(true);
    expect(data.equals(Buffer.concat([head, crashMessage(n)])), `message ${n} differs`).toBe(true);
    delivered.set(n, (delivered.get(n) ?? 0) + 1);
  }
  const lost = [...acked.keys()].filter((n) => !delivered.has(n));
  const dup = [...delivered].filter(([, c]) => c > 1).map(([n]) => n);
  const unackedDelivered = [...delivered.keys()].filter((n) => !acked.has(n)).length;
  console.log(
    `crash test: ${kills} SIGKILLs (${killedBeforeReady} during start-up), ${sent} messages sent, ${acked.size} acknowledged, ` +
      `${delivered.size} delivered (${unackedDelivered} of them never acknowledged: fine, the client would retry), ` +
      `${lost.length} acknowledged but lost, ${dup.length} duplicated`,
  );
  expect(lost).toEqual([]);
  expect(dup).toEqual([]);
  expect(kills).toBeGreaterThanOrEqual(30);
  expect(acked.size).toBeGreaterThan(150);
  for (const s of ['incoming', 'active', 'deferred', 'corrupt'] as const) expect(await queue.names(s), s).toEqual([]);
  // the killed writers' half-written files and drafts were swept when the queue was opened again
  expect(await readdir(join(spool, 'tmp'))).toEqual([]);
  await dir.remove();
});
