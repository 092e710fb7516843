// Quarantine crash test: children quarantining messages, then children releasing them, are SIGKILLed at
// random moments. Afterwards every acknowledged message is held or delivered exactly once, byte for byte;
// nothing half-written is ever visible in hold/ or incoming/, and nothing held is delivered unreleased.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, expect, it } from 'vitest';
import { decodeQueueFile, maildirTransport, openQuarantine, openQueue, startDelivery } from '../src/index.ts';
import { crashMessage } from './crash-message.ts';
import { memoryLogger } from './helpers.ts';

const live = new Set<ChildProcess>();
afterEach(() => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
});

const child = join(import.meta.dirname, 'quarantine-crash-child.ts');

/** One child life: feed it `lines`, kill it after a random number of acknowledgements; returns its output. */
async function round(spool: string, mode: 'hold' | 'release', lines: string[]): Promise<string> {
  const p = spawn(process.execPath, [child, spool, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
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
  expect(await ready, err).toBe(true);
  for (const l of lines) p.stdin.write(`${l}\n`);
  const k = Math.floor(Math.random() * lines.length);
  const acks = () => (out.match(/^(ack|released) /gm) ?? []).length;
  const until = Date.now() + 3000;
  while (acks() < k && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, Math.random() * 4));
  p.kill('SIGKILL');
  await exited;
  expect(out).not.toMatch(/^err /m);
  return out;
}

async function heldFiles(spool: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of await readdir(join(spool, 'hold'))) {
    if (n.startsWith('.')) continue; // a killed action's lock file
    // nothing half-written is ever visible: every file in hold/ verifies and carries its hold record
    const { envelope, message } = decodeQueueFile(await readFile(join(spool, 'hold', n)));
    expect(envelope.hold?.check).toBe('crash');
    out.set(n, Number(/X-Crash-N: (\d+)/.exec(message.toString('latin1'))?.[1]));
  }
  return out;
}

it('quarantining and releasing survive SIGKILL: nothing lost, duplicated, half-visible or delivered unreleased', async () => {
  const dir = await tmpDir('qcrash');
  const spool = join(dir.path, 'spool');
  const acked = new Map<number, string>();
  let sent = 0;
  for (let r = 0; r < 8; r++) {
    const lines = Array.from({ length: 8 }, () => String(sent++));
    const out = await round(spool, 'hold', lines);
    for (const m of out.matchAll(/^ack (\d+) (\S+)$/gm)) acked.set(Number(m[1]), m[2]!);
  }
  // a fresh open sweeps the killed writers' tmp files; nothing reached incoming/
  const mem = memoryLogger();
  const registry = createRegistry();
  const queue = await openQueue({ dir: spool, logger: mem.logger, registry });
  expect(await readdir(join(spool, 'tmp'))).toEqual([]);
  expect(await readdir(join(spool, 'incoming'))).toEqual([]);
  const held = await heldFiles(spool);
  for (const [n, id] of acked) expect(held.get(id), `acknowledged ${n} not held`).toBe(n);
  expect(new Set(held.values()).size).toBe(held.size); // no message held twice

  // releases, killed too
  const ids = [...held.keys()];
  const released = new Set<string>();
  for (let at = 0; at < ids.length; at += 16) {
    const out = await round(spool, 'release', ids.slice(at, at + 16));
    for (const m of out.matchAll(/^released (\S+)$/gm)) released.add(m[1]!);
  }
  const stillHeld = await heldFiles(spool);
  for (const id of released) expect(stillHeld.has(id), `${id} released and still held`).toBe(false);
  // what a kill interrupted is released now (a lock left by a dead child is taken over)
  const q = openQuarantine({ dir: spool, logger: mem.logger, registry });
  for (const id of stillHeld.keys()) await q.release(id, { by: 'test' });

  const root = join(dir.path, 'mail');
  const runner = await startDelivery({ queue, transports: { local: maildirTransport({ root, hostname: 'mx.test' }) }, registry });
  await runner.idle();
  await runner.stop();
  const box = join(root, 'example.test', 'box', 'new');
  const head = Buffer.from('Return-Path: <crash@sender.test>\r\nDelivered-To: box@example.test\r\n');
  const delivered = new Map<number, number>();
  for (const f of await readdir(box)) {
    const data = await readFile(join(box, f));
    const n = Number(/X-Crash-N: (\d+)/.exec(data.toString('latin1'))?.[1]);
    expect(data.equals(Buffer.concat([head, crashMessage(n)])), `message ${n} differs`).toBe(true);
    delivered.set(n, (delivered.get(n) ?? 0) + 1);
  }
  console.log(`quarantine crash test: ${sent} sent, ${acked.size} acknowledged, ${held.size} held, ${released.size} releases acknowledged before a kill, ${delivered.size} delivered`);
  expect([...acked.keys()].filter((n) => !delivered.has(n))).toEqual([]);
  expect([...delivered].filter(([, c]) => c > 1)).toEqual([]);
  expect(delivered.size).toBe(held.size);
  expect(acked.size).toBeGreaterThan(12);
  for (const s of ['incoming', 'active', 'deferred', 'corrupt'] as const) expect((await queue.names(s)).filter((n) => !n.startsWith('.')), s).toEqual([]);
  // a lock a killed release left behind is swept by the next list
  expect(await q.list()).toEqual([]);
  expect(await readdir(join(spool, 'hold'))).toEqual([]);
  await dir.remove();
});
