// Three MX hosts (three greylist instances, three Redis connections) deciding the same triplets at once.
// The script is atomic, so nothing is double counted: exactly one pass is a "retry", one delivery counted.
import { createRegistry } from '@moat/observe';
import { type RedisServer, startRedis } from '@moat/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createGreylist, type Greylist } from '../src/index.ts';
import { settableClock, silentLogger } from './helpers.ts';

let redis: RedisServer;
let raw: Redis;
let mx: Greylist[] = [];
const clock = settableClock();

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(mx.map((g) => g.close()));
  raw.disconnect();
  await redis.stop();
});
beforeEach(async () => {
  await Promise.all(mx.map((g) => g.close()));
  await raw.flushall();
});

const three = (over: { delayMs?: number; clock?: typeof clock | undefined } = {}) =>
  (mx = [1, 2, 3].map((i) =>
    createGreylist({
      redis: { url: redis.url },
      clock: 'clock' in over ? over.clock : clock,
      delayMs: over.delayMs ?? 60_000,
      hostname: `mx${i}.example`,
      // Exact counts are the point here, not the timeout: a loaded CI box must not fail open.
      timeoutMs: 5000,
      registry: createRegistry(),
      logger: silentLogger(),
    }),
  ));

const req = { clientAddress: '203.0.113.10', sender: 'alice@sender.example', recipient: 'bob@rcpt.example' };

it('three MX on one triplet: 3 defers, 3 early defers, then exactly one retry pass and two known', async () => {
  three();
  await Promise.all(mx.map((g) => g.ping()));
  const first = await Promise.all(mx.map((g) => g.check(req)));
  expect(first.map((a) => a.action)).toEqual(['defer', 'defer', 'defer']);
  clock.advance(30);
  const early = await Promise.all(mx.map((g) => g.check(req)));
  expect(early).toEqual(Array(3).fill({ action: 'defer', retryAfter: 30, detail: 'Greylisted, please retry in 30 seconds' }));
  clock.advance(31);
  const late = await Promise.all(mx.map((g) => g.check(req)));
  const reasons = late.map((a) => (a.action === 'pass' ? a.reason : a.action)).sort();
  expect(reasons).toEqual(['known', 'known', 'retry']);
  const info = await mx[0]!.inspect(req);
  expect(info.candidates[0]?.triplet).toMatchObject({ attempts: 9, passes: 3, firstSeen: clock.seconds() - 61 });
  expect(info.candidates[0]?.autoWhitelist?.count).toBe(1);
});

it('three MX racing on 60 triplets, interleaved: exact counts', async () => {
  three();
  await Promise.all(mx.map((g) => g.ping()));
  const reqs = Array.from({ length: 60 }, (_, i) => ({ ...req, clientAddress: `198.51.${i}.7`, recipient: `u${i}@rcpt.example` }));
  const round = () => Promise.all(reqs.flatMap((r) => mx.map((g) => g.check(r))));
  const a = await round();
  expect(a.filter((x) => x.action === 'defer')).toHaveLength(180);
  clock.advance(61);
  const b = await round();
  expect(b.filter((x) => x.action === 'pass' && x.reason === 'retry')).toHaveLength(60);
  expect(b.filter((x) => x.action === 'pass' && x.reason === 'known')).toHaveLength(120);
  const stored = await Promise.all(reqs.map((r) => mx[1]!.inspect(r)));
  for (const s of stored) expect(s.candidates[0]?.triplet).toMatchObject({ attempts: 6, passes: 3 });
  for (const s of stored) expect(s.candidates[0]?.autoWhitelist?.count).toBe(1);
});

it('the same race on the Redis server clock (no injected time)', async () => {
  // 2 s, not 1: Redis TIME has whole seconds, and the three calls may straddle a tick (1 s would then pass)
  three({ clock: undefined, delayMs: 2000 });
  await Promise.all(mx.map((g) => g.ping()));
  expect((await Promise.all(mx.map((g) => g.check(req)))).map((a) => a.action)).toEqual(['defer', 'defer', 'defer']);
  await new Promise((r) => setTimeout(r, 3100));
  const late = await Promise.all(mx.map((g) => g.check(req)));
  expect(late.map((a) => (a.action === 'pass' ? a.reason : a.action)).sort()).toEqual(['known', 'known', 'retry']);
});
