// The gateway SIGKILLed while messages stream in, several times over: every message it answered 250 for is in
// the spool whole (checksum and bytes), under the id it gave, and the killed runs' drafts and half-written
// files are gone from tmp/ once it has started again. The MX runs as documented (main.ts, delivery thread).
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeQueueFile } from '@moat/queue';
import { startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeGatewayConfig } from './gateway-config.ts';
import { killRounds, restartSwept } from './kill-loop.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
let cfg: string;
let spool: string;
const live = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await tmpDir('mx-kill');
  redis = await startRedis();
  spool = join(dir.path, 'spool');
  cfg = await writeGatewayConfig({
    dir: dir.path,
    redisUrl: redis.url,
    spamd: '{ enabled: false }',
    queue: `{ dir: ${spool}, transport: "smtp://127.0.0.1:9", retry: { initial: 1h, max: 4h } }`,
  });
}, 30_000);

afterAll(async () => {
  for (const p of live) p.kill('SIGKILL');
  await redis?.stop();
  await dir?.remove();
});

/** Message n: a header block and a body of n-dependent size (some over a megabyte), built the same way twice. */
function message(n: number): string {
  const line = `${String(n).padStart(6, '0')} ${'k'.repeat(70)}\r\n`;
  return `From: a@sender.example\r\nTo: rcpt@example.org\r\nSubject: kill ${n}\r\nX-Kill-N: ${n}\r\n\r\n${line.repeat(50 + ((n * 7919) % 20_000))}`;
}

it('no acknowledged message is lost or damaged across SIGKILLs of the MX mid-DATA', async () => {
  // four rounds of eight clients at once, each sending messages one after another, until the kill
  const run = { cfg, live, startMs: 30_000 };
  const { acked, tried: n } = await killRounds({
    ...run,
    rounds: 4,
    clients: 8,
    message,
    timeoutMs: 20_000,
    // once this round has one answer (a loaded machine starts slowly), then 1.5 to 3 s more: mid-DATA for most
    async untilKill(acked) {
      const target = acked.size + 1;
      for (let i = 0; i < 300 && acked.size < target; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500));
    },
  });
  // one more start: the sweep removes the killed runs' tmp/ files (drafts, half-written queue files)
  const leftovers = await restartSwept(run, spool);

  expect(acked.size).toBeGreaterThan(10);
  const files = new Map<string, string>();
  for (const state of ['incoming', 'active', 'deferred']) {
    for (const name of await readdir(join(spool, state))) files.set(name.split('.')[0]!, join(spool, state, name));
  }
  for (const [id, k] of acked) {
    const file = files.get(id);
    expect(file, `acknowledged ${id} (message ${k}) is in the spool`).toBeDefined();
    const { message: bytes } = decodeQueueFile(await readFile(file!));
    const text = bytes.toString('latin1');
    expect(text.endsWith(message(k).slice(message(k).indexOf('\r\n\r\n'))), `body of ${id}`).toBe(true);
    expect(text).toContain(`X-Kill-N: ${k}\r\n`);
  }
  console.log(`mx kill test: 4 SIGKILLs, ${n} messages tried, ${acked.size} acknowledged, all in the spool whole; ${leftovers} files of killed transactions swept from tmp/`);
}, 300_000);
