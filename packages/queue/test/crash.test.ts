// Crash test: a child that enqueues is SIGKILLed at random moments, many times. Afterwards every message
// it acknowledged is delivered exactly once, byte for byte, and nothing half-written ever surfaces.
import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { tmpDir } from '@moat/testkit';
import { afterEach, expect, it } from 'vitest';
import { openQueue } from '../src/index.ts';
import { acknowledged, deliverAndRead, feedAndKill, spawnCrashChild } from './crash-harness.ts';
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
    const p = spawnCrashChild(live, child, [spool, (['seq', 'par', 'draft'] as const)[round % 3]!]);
    // Every 8th round is killed while still starting up (opening the spool).
    if (round % 8 === 7) {
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      killedBeforeReady++;
      await p.kill();
      expect(p.out()).not.toMatch(/^err /m);
    } else {
      await feedAndKill(p, Array.from({ length: PER_ROUND }, () => String(sent++)), /^ack /gm);
    }
    kills++;
    acknowledged(p.out(), acked);
  }

  // Afterwards: one runner delivers whatever the queue holds into a maildir.
  const mem = memoryLogger();
  const registry = createRegistry();
  const queue = await openQueue({ dir: spool, logger: mem.logger, registry });
  const delivered = await deliverAndRead(queue, registry, join(dir.path, 'mail'), (n) => Number.isInteger(n) && n < sent);
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
