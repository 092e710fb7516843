// The gateway SIGKILLed while a real spamd scores messages into the quarantine band, several times over: every
// message it answered 250 for is either held (hold/, checksum whole, never delivered) or queued for its normal
// route, exactly as its score says, exactly once; files of killed transactions are swept, damage goes to corrupt/.
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeQueueFile } from '@moat/queue';
import { type SpamdDaemon, startRedis, startSpamd, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeGatewayConfig } from './gateway-config.ts';
import { killRounds, restartSwept } from './kill-loop.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
let spamd: SpamdDaemon;
let cfg: string;
let spool: string;
const live = new Set<ChildProcess>();
const MARK = 'quarantine-band-marker';

beforeAll(async () => {
  dir = await tmpDir('mx-quarantine-kill');
  redis = await startRedis();
  // one rule puts a message in the band: 6.5 (+ the few points of the stock rules) is >= 5 and < 10
  spamd = await startSpamd({ localCf: `body MOAT_KILL_QUARANTINE /${MARK}/\nscore MOAT_KILL_QUARANTINE 6.5` });
  spool = join(dir.path, 'spool');
  cfg = await writeGatewayConfig({
    dir: dir.path,
    redisUrl: redis.url,
    spamd: `{ host: ${spamd.host}, port: ${spamd.port}, quarantine_threshold: 5, reject_threshold: 10, on_failure: tempfail }`,
    queue: `{ dir: ${spool}, transport: "smtp://127.0.0.1:9", retry: { initial: 1h, max: 4h } }`,
  });
}, 90_000);

afterAll(async () => {
  for (const p of live) p.kill('SIGKILL');
  await spamd?.close();
  await redis?.stop();
  await dir?.remove();
});

/** Message n: even ones carry the band's marker (held), odd ones not (queued); sizes vary with n. */
function message(n: number): string {
  const line = `${String(n).padStart(6, '0')} ${'k'.repeat(70)}\r\n`;
  const mark = n % 2 === 0 ? `${MARK}\r\n` : '';
  return (
    `From: a@sender.example\r\nTo: rcpt@example.org\r\nSubject: qkill ${n}\r\nDate: ${new Date().toUTCString().replace('GMT', '+0000')}\r\n` +
    `Message-ID: <qkill.${n}@sender.example>\r\nX-Kill-N: ${n}\r\n\r\n${mark}${line.repeat(20 + ((n * 7919) % 2000))}`
  );
}

/** id -> [state, file] for every queue file of the spool (a message in two places is a duplicate). */
async function spoolFiles(): Promise<Map<string, Array<{ state: string; file: string }>>> {
  const files = new Map<string, Array<{ state: string; file: string }>>();
  for (const state of ['incoming', 'active', 'deferred', 'hold']) {
    for (const name of await readdir(join(spool, state)).catch(() => [] as string[])) {
      if (name.startsWith('.')) continue;
      const id = name.split('.')[0]!;
      files.set(id, [...(files.get(id) ?? []), { state, file: join(spool, state, name) }]);
    }
  }
  return files;
}

it('no acknowledged message is lost, released or duplicated across SIGKILLs of the MX mid-quarantine', async () => {
  const run = { cfg, live, startMs: 60_000 };
  const { acked, tried: n } = await killRounds({
    ...run,
    rounds: 3,
    clients: 4,
    message,
    timeoutMs: 30_000,
    // kill once some messages of this round were scanned (spamd takes its time on a loaded machine)
    async untilKill(acked) {
      const target = acked.size + 3;
      for (let i = 0; i < 300 && acked.size < target; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, Math.random() * 800));
    },
  });
  // one more start, without delivery: the sweep removes the killed runs' tmp/ files
  await restartSwept(run, spool);

  const files = await spoolFiles();
  let held = 0;
  for (const [id, k] of acked) {
    const where = files.get(id);
    expect(where, `acknowledged ${id} (message ${k}) is in the spool`).toBeDefined();
    expect(where!.length, `${id} is in one place only: ${where!.map((w) => w.state).join(', ')}`).toBe(1);
    const { state, file } = where![0]!;
    // exactly as its score says: the band's messages held, the others on their normal route
    expect(state, `message ${k} (${id})`).toMatch(k % 2 === 0 ? /^hold$/ : /^(incoming|active|deferred)$/);
    const { envelope, message: bytes } = decodeQueueFile(await readFile(file));
    expect(bytes.toString('latin1')).toContain(`X-Kill-N: ${k}\r\n`);
    if (k % 2 === 0) {
      held++;
      expect(envelope.hold?.check, `${id}'s hold record`).toMatch(/spam/i);
    }
  }
  // no message twice under two ids either
  const ns = new Map<number, number>();
  for (const [, where] of files) {
    for (const { file } of where) {
      const k = Number(/X-Kill-N: (\d+)/.exec(decodeQueueFile(await readFile(file)).message.toString('latin1'))?.[1]);
      ns.set(k, (ns.get(k) ?? 0) + 1);
    }
  }
  expect([...ns].filter(([, c]) => c > 1)).toEqual([]);
  // whatever is in corrupt/ was never acknowledged
  const corrupt = (await readdir(join(spool, 'corrupt')).catch(() => [] as string[])).map((f) => f.split('.')[0]!);
  expect(corrupt.filter((id) => acked.has(id))).toEqual([]);
  expect(held).toBeGreaterThan(2);
  expect(acked.size - held).toBeGreaterThan(2);
  console.log(`mx quarantine kill test: 3 SIGKILLs, ${n} messages tried, ${acked.size} acknowledged (${held} held, ${acked.size - held} queued), each once where its score puts it; ${corrupt.length} in corrupt/`);
}, 900_000);
