// The daily TLS-RPT send inside mx: three nodes' timers on an injected clock, each with its own spool and outcomes,
// one real Redis between them (the per-day lock), real queues: exactly one node queues the day's reports.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, createRegistry } from '@moat/observe';
import { decodeQueueFile, openQueue, type Queue } from '@moat/queue';
import { connectRedis, type RedisClient } from '@moat/redis';
import { freePort, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisDayLock, startTlsReportTimer, TLSRPT_LOCK_PREFIX, tlsReportSender } from '../src/tls-report-timer.ts';
import { spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
const clients: RedisClient[] = [];
const queues: Queue[] = [];

beforeAll(async () => {
  dir = await tmpDir('mx-tlsrpt');
  redis = await startRedis();
});

afterAll(async () => {
  for (const q of queues) await q.close();
  for (const c of clients) c.disconnect();
  await redis?.stop();
  await dir?.remove();
});

const line = (o: object) => `${JSON.stringify(o)}\n`;

/** One node: its outcomes for 2026-12-06 (none for `empty`), its queue, its timer on the shared clock. */
async function node(name: string, outcomes: object[], clock: { now: () => number; schedule: (f: () => void, ms: number) => { cancel(): void } }) {
  const base = join(dir.path, name);
  await mkdir(join(base, 'tlsrpt'), { recursive: true });
  if (outcomes.length) await writeFile(join(base, 'tlsrpt', '2026-12-06.jsonl'), outcomes.map(line).join(''));
  const logLines: string[] = [];
  const logger = createLogger('test', { level: 'info', destination: { write: (s: string) => logLines.push(s) } as never });
  const queue = await openQueue({ dir: join(base, 'spool'), logger, registry: createRegistry() });
  queues.push(queue);
  // the client the delivery thread makes (fail-fast, no offline queue): ready before the first run
  const client = connectRedis({ url: redis.url }, { connectionName: `moat-${name}-tlsrpt`, connectTimeoutMs: 5000 });
  clients.push(client);
  await new Promise((r) => client.once('ready', r));
  const registry = createRegistry();
  const timer = startTlsReportTimer({
    at: '01:00',
    dir: join(base, 'tlsrpt'),
    hostname: `${name}.moat.test`,
    organization: 'moat.test',
    contact: 'mailto:postmaster@moat.test',
    txt: async (n) => (n === '_smtp._tls.asks.example' ? ['v=TLSRPTv1; rua=mailto:tls@asks.example'] : []),
    enqueue: (input) => queue.enqueue(input),
    lock: redisDayLock(client, name),
    logger,
    registry,
    ...clock,
  });
  return { name, queue, timer, registry, logLines };
}

it('sends the day once from the node that has outcomes, whichever node fires first; the others count why not', async () => {
  let now = Date.parse('2026-12-07T00:00:00Z');
  const due: Array<{ at: number; f: () => void }> = [];
  const clock = {
    now: () => now,
    schedule(f: () => void, ms: number) {
      const e = { at: now + ms, f };
      due.push(e);
      return { cancel: () => due.splice(due.indexOf(e), 1) };
    },
  };
  const seen = [{ policyDomain: 'asks.example', policyType: 'sts', result: 'success' }];
  // mx3 has sent nothing out (a backup), mx1 and mx2 both have sessions to report
  const mx3 = await node('mx3', [], clock);
  const mx1 = await node('mx1', seen, clock);
  const mx2 = await node('mx2', seen, clock);
  expect(due.map((d) => new Date(d.at).toISOString())).toEqual(Array(3).fill('2026-12-07T01:00:00.000Z'));
  now = Date.parse('2026-12-07T01:00:00Z');
  // fire in node order mx3, mx1, mx2, one run finished before the next starts (as the lock sees them)
  for (const n of [mx3, mx1, mx2]) {
    const i = due.findIndex((d) => d.at <= now);
    const [d] = due.splice(i, 1);
    d!.f();
    for (let k = 0; k < 50 && !n.logLines.some((l) => l.includes('"event":"tlsrpt"') && l.includes('"day"')); k++) await new Promise((r) => setTimeout(r, 20));
  }
  const queued = await Promise.all([mx1, mx2, mx3].map(async (n) => (await n.queue.list()).length));
  expect(queued).toEqual([1, 0, 0]);
  const [entry] = await mx1.queue.list();
  expect(entry?.recipients?.map((r) => r.address)).toEqual(['tls@asks.example']);
  expect(entry?.sender).toBe('postmaster@mx1.moat.test');
  // as spooled: by MX lookup with opportunistic TLS only and uncounted (RFC 8460 3), marked for DKIM signing
  const { envelope } = decodeQueueFile(await readFile(join(dir.path, 'mx1', 'spool', entry!.state, entry!.id)));
  expect(envelope.recipients[0]?.nextHop).toMatchObject({ transport: 'smtp', mx: true, tls: 'may' });
  expect(envelope.meta).toMatchObject({ origin: 'tlsrpt', dkim: 'sign' });
  const result = async (n: typeof mx1) => (await n.registry.getSingleMetricAsString('moat_tlsrpt_runs_total')).match(/result="(\w+)"\} 1/)?.[1];
  expect(await Promise.all([mx1, mx2, mx3].map(result))).toEqual(['sent', 'taken', 'nothing']);
  expect(mx1.logLines.join('')).toMatch(/"result":"sent".*"to":"tls@asks.example"/);
  expect(await clients[0]!.get(`${TLSRPT_LOCK_PREFIX}2026-12-06`)).toBe('mx1');
  // each node armed the next day
  expect(due.map((d) => new Date(d.at).toISOString())).toEqual(Array(3).fill('2026-12-08T01:00:00.000Z'));
  for (const n of [mx1, mx2, mx3]) n.timer.stop();
});

it('the real mx schedules the daily send in its delivery thread when reporting is configured', async () => {
  const cfg = join(dir.path, 'moat.yaml');
  await writeFile(
    cfg,
    `version: 1
policy: { hostname: mx.moat.test }
recipients: { domains: [moat.test] }
dns: { resolver: "127.0.0.1:${await freePort()}" }
mx: { tls: { state_dir: ${dir.path}/tls } }
spamd: { enabled: false }
greylist: { redis: { url: "${redis.url}" } }
queue: { dir: ${dir.path}/spool, transport: "maildir:${dir.path}/mail", tls: { report_contact: "mailto:tlsrpt@moat.test", report_time: "23:59" } }
metrics: { enabled: false }
`,
  );
  const mx = await spawnMain(cfg, await freePort());
  try {
    for (let i = 0; i < 100 && !/daily send scheduled/.test(mx.log.text); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await mx.logged(/"event":"tlsrpt","at":"23:59 UTC","next":"\d{4}-\d{2}-\d{2}T23:59:00.000Z".*daily send scheduled/)).toMatch(/"event":"tlsrpt","at":"23:59 UTC","next":"\d{4}-\d{2}-\d{2}T23:59:00.000Z".*daily send scheduled/);
  } finally {
    await mx.stop();
  }
}, 60_000);

it('gives the day back when nothing could be queued, so the retry sends it; never another node\'s claim', async () => {
  const base = join(dir.path, 'retry');
  await mkdir(join(base, 'tlsrpt'), { recursive: true });
  await writeFile(join(base, 'tlsrpt', '2026-12-06.jsonl'), line({ policyDomain: 'asks.example', policyType: 'sts', result: 'success' }));
  const client = connectRedis({ url: redis.url }, { connectionName: 'moat-retry-tlsrpt', connectTimeoutMs: 5000 });
  clients.push(client);
  await new Promise((r) => client.once('ready', r));
  await client.del(`${TLSRPT_LOCK_PREFIX}2026-12-06`);
  const queue = await openQueue({ dir: join(base, 'spool'), logger: createLogger('test', { level: 'silent' }), registry: createRegistry() });
  queues.push(queue);
  let full = true;
  const send = tlsReportSender({
    dir: join(base, 'tlsrpt'),
    hostname: 'mx9.moat.test',
    organization: 'moat.test',
    contact: 'mailto:postmaster@moat.test',
    txt: async (n) => (n === '_smtp._tls.asks.example' ? ['v=TLSRPTv1; rua=mailto:tls@asks.example'] : []),
    enqueue: async (input) => {
      if (full) throw Object.assign(new Error('spool full'), { code: 'EQUEUE_NOSPACE' });
      return queue.enqueue(input);
    },
    lock: redisDayLock(client, 'mx9'),
    logger: createLogger('test', { level: 'silent' }),
    registry: createRegistry(),
  });
  await expect(send('2026-12-06')).rejects.toThrow(/spool full/);
  expect(await client.get(`${TLSRPT_LOCK_PREFIX}2026-12-06`)).toBeNull();
  full = false;
  await send('2026-12-06');
  expect((await queue.list()).length).toBe(1);
  expect(await client.get(`${TLSRPT_LOCK_PREFIX}2026-12-06`)).toBe('mx9');
  // another node's claim is never given back by this one
  await redisDayLock(client, 'mx1').release('2026-12-06');
  expect(await client.get(`${TLSRPT_LOCK_PREFIX}2026-12-06`)).toBe('mx9');
});
