// Redis Cluster (3 masters): the decision script's keys share one hash tag, so it runs without
// CROSSSLOT errors; identities spread over the nodes; the admin API works across them.
import { createRegistry } from '@moat/observe';
import { type RedisCluster, startRedisCluster } from '@moat/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGreylist, type Greylist } from '../src/index.ts';
import { settableClock, silentLogger } from './helpers.ts';

let cluster: RedisCluster;
let mx: Greylist[] = [];
const clock = settableClock();

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  mx = [1, 2, 3].map(() =>
    createGreylist({ redis: { cluster: cluster.nodes }, clock, timeoutMs: 500, registry: createRegistry(), logger: silentLogger() }),
  );
  await Promise.all(mx.map((g) => g.ping()));
});
afterAll(async () => {
  await Promise.all(mx.map((g) => g.close()));
  await cluster?.stop();
});

it('greylists on a cluster: 40 client networks, three MX racing, exact counts, keys on every node', async () => {
  const reqs = Array.from({ length: 40 }, (_, i) => ({ clientAddress: `198.51.${i}.7`, sender: 'a@sender.example', recipient: `u${i}@rcpt.example` }));
  const first = await Promise.all(reqs.flatMap((r) => mx.map((g) => g.check(r))));
  expect(first.every((a) => a.action === 'defer')).toBe(true);
  clock.advance(61);
  const second = await Promise.all(reqs.flatMap((r) => mx.map((g) => g.check(r))));
  expect(second.filter((a) => a.action === 'pass' && a.reason === 'retry')).toHaveLength(40);
  expect(second.filter((a) => a.action === 'pass' && a.reason === 'known')).toHaveLength(80);
  for (const s of cluster.servers) {
    const r = new Redis(s.url);
    expect(await r.dbsize(), `node ${s.port}`).toBeGreaterThan(0);
    r.disconnect();
  }
});

it('admin API across nodes: inspect, whitelistClient, listStuck, remove', async () => {
  await mx[0]!.check({ clientAddress: '233.252.0.5', sender: 'stuck@spam.example', recipient: 'x@rcpt.example' });
  await mx[1]!.check({ clientAddress: '233.252.1.5', sender: 'stuck@spam.example', recipient: 'x@rcpt.example' });
  clock.advance(120);
  const stuck = await mx[2]!.listStuck(10);
  expect(stuck.map((s) => s.identity).sort()).toEqual(['net:233.252.0.0/24', 'net:233.252.1.0/24']);
  const info = await mx[0]!.inspect({ clientAddress: '198.51.3.7', sender: 'a@sender.example', recipient: 'u3@rcpt.example' });
  expect(info.candidates[0]?.triplet).toMatchObject({ attempts: 6, passes: 3 });
  await mx[0]!.whitelistClient('192.0.2.0/24', 600);
  await mx[1]!.refreshWhitelist();
  expect(await mx[1]!.check({ clientAddress: '192.0.2.9', sender: 'a@b.example', recipient: 'c@d.example' })).toMatchObject({ reason: 'whitelist' });
  expect(await mx[2]!.remove({ triplet: { clientAddress: '233.252.0.5', sender: 'stuck@spam.example', recipient: 'x@rcpt.example' } })).toBe(1);
  expect(await mx[2]!.listStuck(10)).toHaveLength(1);
});
