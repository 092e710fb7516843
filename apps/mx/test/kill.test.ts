// The gateway SIGKILLed while messages stream in, several times over: every message it answered 250 for is in
// the spool whole (checksum and bytes), under the id it gave, and the killed runs' drafts and half-written
// files are gone from tmp/ once it has started again. The MX runs as documented (main.ts, delivery thread).
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeQueueFile } from '@moat/queue';
import { freePort, SmtpClient, startRedis, tmpDir, waitForPort } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
let cfg: string;
let spool: string;
const live = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await tmpDir('mx-kill');
  redis = await startRedis();
  spool = join(dir.path, 'spool');
  cfg = join(dir.path, 'moat.yaml');
  await writeFile(
    cfg,
    `version: 1
policy:
  hostname: mx.example.org
  mynetworks: [127.0.0.0/8]
  recipient_restrictions: reject_unlisted_recipient, permit_mynetworks, reject
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
dns:
  resolver: 127.0.0.1:${await freePort()}
  timeout: 200ms
greylist: { redis: { url: "${redis.url}" } }
mx:
  tls: { state_dir: ${dir.path}/tls }
  auth_results: { enabled: false }
spamd: { enabled: false }
queue: { dir: ${spool}, transport: "smtp://127.0.0.1:9", retry: { initial: 1h, max: 4h } }
metrics: { enabled: false }
`,
  );
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

async function send(port: number, n: number): Promise<string | undefined> {
  try {
    const c = await SmtpClient.connect(port, { timeoutMs: 20_000 });
    await c.read();
    await c.cmd('EHLO client.example');
    if ((await c.cmd('MAIL FROM:<a@sender.example>')).code !== 250) return undefined;
    if ((await c.cmd('RCPT TO:<rcpt@example.org>')).code !== 250) return undefined;
    const r = await c.data(message(n), 20_000);
    c.destroy();
    return r.code === 250 ? /queued as (\S+)/.exec(r.text)?.[1] : undefined;
  } catch {
    return undefined; // killed under it: the client would retry
  }
}

it('no acknowledged message is lost or damaged across SIGKILLs of the MX mid-DATA', async () => {
  const acked = new Map<string, number>();
  let n = 0;
  for (let round = 0; round < 4; round++) {
    const port = await freePort();
    const mx = spawn(process.execPath, [join(import.meta.dirname, '../src/main.ts'), '--config', cfg, '--listen', `127.0.0.1:${port}`], {
      env: { ...process.env, MOAT_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    live.add(mx);
    const exited = new Promise((r) => mx.once('exit', r));
    await waitForPort(port, '127.0.0.1', 30_000);
    // eight clients at once, each sending messages one after another, until the kill
    let killed = false;
    const clients = Array.from({ length: 8 }, async () => {
      while (!killed) {
        const k = n++;
        const id = await send(port, k);
        if (id) acked.set(id, k);
      }
    });
    await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500));
    killed = true;
    mx.kill('SIGKILL');
    await exited;
    live.delete(mx);
    await Promise.all(clients);
  }
  // one more start: the sweep removes the killed runs' tmp/ files (drafts, half-written queue files)
  const leftovers = (await readdir(join(spool, 'tmp'))).length;
  const port = await freePort();
  const mx = spawn(process.execPath, [join(import.meta.dirname, '../src/main.ts'), '--config', cfg, '--listen', `127.0.0.1:${port}`, '--no-delivery'], {
    env: { ...process.env, MOAT_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  live.add(mx);
  await waitForPort(port, '127.0.0.1', 30_000);
  expect(await readdir(join(spool, 'tmp'))).toEqual([]);
  mx.kill('SIGTERM');

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
}, 120_000);
