// Quarantine crash test: children quarantining messages, then children releasing them, are SIGKILLed at
// random moments. Afterwards every acknowledged message is held or delivered exactly once, byte for byte;
// nothing half-written is ever visible in hold/ or incoming/, and nothing held is delivered unreleased.
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, expect, it } from 'vitest';
import { decodeQueueFile, openQuarantine, openQueue } from '../src/index.ts';
import { acknowledged, deliverAndRead, feedAndKill, spawnCrashChild } from './crash-harness.ts';
import { memoryLogger } from './helpers.ts';

const live = new Set<ChildProcess>();
afterEach(() => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
});

const child = join(import.meta.dirname, 'quarantine-crash-child.ts');

/** One child life: feed it `lines`, kill it after a random number of acknowledgements; returns its output. */
const round = (spool: string, mode: 'hold' | 'release', lines: string[]) =>
  feedAndKill(spawnCrashChild(live, child, [spool, mode]), lines, /^(ack|released) /gm);

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
    acknowledged(await round(spool, 'hold', lines), acked);
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

  const delivered = await deliverAndRead(queue, registry, join(dir.path, 'mail'));
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
