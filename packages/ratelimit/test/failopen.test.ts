// Redis killed and Redis frozen (slower than timeoutMs): every check passes without counting, each is
// counted as a fail-open, one line per outage and one on recovery; the limits work again afterwards.
import { createRegistry } from '@moat/observe';
import { type RedisServer, startRedis } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../src/index.ts';
import { captureLogger, settableClock } from './helpers.ts';

let redis: RedisServer;
let rl: RateLimiter;
const registry = createRegistry();
const log = captureLogger();
const clock = settableClock();

beforeAll(async () => {
  redis = await startRedis();
  rl = createRateLimiter({
    redis: { url: redis.url },
    limits: { smtpd_client_message_rate_limit: 1, auth_failure_limit: 1 },
    clock,
    timeoutMs: 200,
    registry,
    logger: log.logger,
    outageLogIntervalMs: 0,
  });
  expect(await rl.ping()).toBe(true);
});
afterAll(async () => {
  await rl.close();
  await redis.stop();
});

const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? [];
const events = (name: string) => log.lines().filter((l) => l.event === name);

it('killed: passes (fail open), counted, logged once; limits again after the restart', async () => {
  expect(await rl.mail({ client: '192.0.2.1' })).toEqual({ ok: true });
  expect(await rl.mail({ client: '192.0.2.1' })).toMatchObject({ ok: false });
  await redis.kill();
  const answers = [];
  for (let i = 0; i < 10; i++) answers.push(await rl.mail({ client: '192.0.2.1' }));
  await rl.authFailed({ client: '192.0.2.1' });
  expect(await rl.auth({ client: '192.0.2.1' })).toEqual({ ok: true, failOpen: true });
  expect(answers.every((a) => a.ok && a.failOpen)).toBe(true);
  expect((await metric('moat_ratelimit_fail_open_total'))[0]?.value).toBe(12);
  expect(events('ratelimit-store-down')).toHaveLength(1);
  expect((await metric('moat_ratelimit_store_up'))[0]?.value).toBe(0);

  await redis.restart();
  const deadline = Date.now() + 15_000;
  while (!(await rl.ping()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(await rl.mail({ client: '192.0.2.1' })).toEqual({ ok: true }); // empty dataset after the restart
  expect(await rl.mail({ client: '192.0.2.1' })).toMatchObject({ ok: false });
  expect(events('ratelimit-store-recovered')).toHaveLength(1);
  expect(events('ratelimit-store-recovered')[0]).toMatchObject({ failOpens: 12 });
});

it('frozen (SIGSTOP): slower than timeoutMs passes, counted as a timeout', async () => {
  redis.daemon().process.kill('SIGSTOP');
  try {
    expect(await rl.mail({ client: '192.0.2.2' })).toEqual({ ok: true, failOpen: true });
  } finally {
    redis.daemon().process.kill('SIGCONT');
  }
  const timeouts = (await metric('moat_ratelimit_redis_errors_total')).find((v) => v.labels.kind === 'timeout');
  expect(timeouts?.value).toBeGreaterThanOrEqual(1);
});
