// Sentinel failover: master + replica + 3 sentinels; the master is killed and greylisting continues on
// the promoted replica, with the triplet written before the failover still there.
import { createRegistry } from '@moat/observe';
import { type RedisSentinels, type RedisServer, startRedis, startSentinels } from '@moat/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGreylist, type Greylist } from '../src/index.ts';
import { captureLogger, settableClock, waitFor } from './helpers.ts';

let master: RedisServer;
let replica: RedisServer;
let sentinels: RedisSentinels;
let gl: Greylist;
const log = captureLogger();
const clock = settableClock();
const NAME = 'moatgl';

beforeAll(async () => {
  master = await startRedis();
  replica = await startRedis({ replicaOf: { host: master.host, port: master.port } });
  const r = new Redis(replica.url);
  await waitFor(async () => /master_link_status:up/.test(await r.info('replication')), 15_000, 'replica sync');
  r.disconnect();
  sentinels = await startSentinels(NAME, master);
  // Wait until every sentinel knows the replica and the other two sentinels (needed for a failover).
  for (const s of sentinels.sentinels) {
    const c = new Redis({ host: s.host, port: s.port });
    await waitFor(
      async () => {
        const m = (await c.call('SENTINEL', 'MASTER', NAME)) as string[];
        const f = (k: string) => Number(m[m.indexOf(k) + 1]);
        return f('num-slaves') >= 1 && f('num-other-sentinels') >= 2;
      },
      30_000,
      'sentinels to discover each other',
    );
    c.disconnect();
  }
  gl = createGreylist({
    redis: { sentinels: sentinels.sentinels, name: NAME },
    clock,
    timeoutMs: 200,
    registry: createRegistry(),
    logger: log.logger,
  });
  await gl.ping();
}, 90_000);

afterAll(async () => {
  await gl?.close();
  await sentinels?.stop();
  await replica?.stop();
  await master?.stop();
});

const req = { clientAddress: '203.0.113.10', sender: 'alice@sender.example', recipient: 'bob@rcpt.example' };

it('greylisting continues after the master is killed and the replica promoted', async () => {
  expect(await gl.check(req)).toMatchObject({ action: 'defer' });
  // Make sure the record reached the replica before pulling the plug.
  const m = new Redis(master.url);
  await m.call('WAIT', '1', '2000');
  m.disconnect();

  await master.kill();
  const t0 = Date.now();
  let failOpens = 0;
  const resumed = await waitFor(
    async () => {
      const a = await gl.check({ ...req, recipient: `probe${Date.now()}@rcpt.example` });
      if (a.action === 'pass' && a.reason === 'fail-open') {
        failOpens++;
        await new Promise((r) => setTimeout(r, 200));
        return false;
      }
      return a;
    },
    30_000,
    'greylisting after failover',
  );
  expect(resumed).toMatchObject({ action: 'defer' });
  const r = new Redis(replica.url);
  expect(await r.info('replication')).toMatch(/role:master/);
  r.disconnect();

  clock.advance(61);
  expect(await gl.check(req)).toMatchObject({ action: 'pass', reason: 'retry' });
  expect(log.lines().filter((l) => l.event === 'greylist-store-down')).toHaveLength(1);
  expect(log.lines().filter((l) => l.event === 'greylist-store-recovered')).toHaveLength(1);
  console.log(`failover: greylisting resumed after ${Date.now() - t0} ms, ${failOpens} fail-open answers meanwhile`);
});
