// Redis Cluster (3 masters): one command's counters (client and login) share the `{rl}` hash tag, so the
// check script runs without CROSSSLOT; list() scans every master.
import { createRegistry } from '@moat/observe';
import { type RedisCluster, startRedisCluster } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../src/index.ts';
import { captureLogger, settableClock } from './helpers.ts';

let cluster: RedisCluster;
let mx: RateLimiter[] = [];
const clock = settableClock();

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  mx = [1, 2].map(() =>
    createRateLimiter({
      redis: { cluster: cluster.nodes },
      limits: { smtpd_client_message_rate_limit: 5, sasl_user_message_rate_limit: 3 },
      clock,
      timeoutMs: 1000,
      registry: createRegistry(),
      logger: captureLogger('silent').logger,
    }),
  );
  await Promise.all(mx.map((l) => l.ping()));
});
afterAll(async () => {
  await Promise.all(mx.map((l) => l.close()));
  await cluster?.stop();
});

it('counts a client and a login in one script on a cluster, shared by two limiters', async () => {
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await mx[i % 2]!.mail({ client: '192.0.2.1', user: 'erin' }));
  expect(answers.map((a) => a.ok)).toEqual([true, true, true, false]);
  expect(answers.every((a) => !('failOpen' in a))).toBe(true);
  expect(answers[3]).toMatchObject({ limit: 'sasl_user_message_rate_limit', count: 4 });
  expect((await mx[0]!.list()).map((s) => [s.limit, s.subject, s.count])).toEqual([['sasl_user_message_rate_limit', 'erin', 4]]);
});
