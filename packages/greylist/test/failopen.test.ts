// Redis killed mid-run, and Redis frozen (slower than timeoutMs): the greylist passes with 'fail-open',
// logs one line per outage and one on recovery, counts every fail-open, and reconnects by itself.
import { createRegistry, type Registry } from '@moat/observe';
import { type RedisServer, startRedis } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGreylist, type Greylist } from '../src/index.ts';
import { captureLogger, settableClock, waitFor } from './helpers.ts';

let redis: RedisServer;
let gl: Greylist;
let registry: Registry;
const log = captureLogger();
const clock = settableClock();

beforeAll(async () => {
  redis = await startRedis();
  registry = createRegistry();
  gl = createGreylist({ redis: { url: redis.url }, clock, timeoutMs: 200, registry, logger: log.logger, outageLogIntervalMs: 0 });
  await gl.ping();
});
afterAll(async () => {
  await gl.close();
  await redis.stop();
});

const req = (i: number) => ({ clientAddress: `203.0.113.${i % 250}`, sender: `s${i}@sender.example`, recipient: 'bob@rcpt.example' });
const events = (name: string) => log.lines().filter((l) => l.event === name);
const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? [];

it('killed: fails open fast, logs once, counts; recovers after restart and logs once', async () => {
  expect(await gl.check(req(1))).toMatchObject({ action: 'defer' });
  await redis.kill();
  const answers = [];
  const t0 = Date.now();
  for (let i = 0; i < 30; i++) answers.push(await gl.check(req(i)));
  const elapsed = Date.now() - t0;
  expect(answers.every((a) => a.action === 'pass' && a.reason === 'fail-open')).toBe(true);
  // Fail fast, not 30 x timeoutMs (bounded generously: this is a behaviour check, not a benchmark).
  expect(elapsed).toBeLessThan(30 * 200);
  expect(events('greylist-store-down')).toHaveLength(1);
  expect(events('greylist-store-recovered')).toHaveLength(0);
  expect((await metric('moat_greylist_fail_open_total'))[0]?.value).toBe(30);
  expect(await gl.ping()).toBe(false);

  await redis.restart();
  await waitFor(async () => (await gl.check(req(1000))).action === 'defer', 15_000, 'greylisting to resume');
  expect(events('greylist-store-down')).toHaveLength(1);
  expect(events('greylist-store-recovered')).toHaveLength(1);
  expect(events('greylist-store-recovered')[0]).toMatchObject({ level: 30 });
  expect(await gl.ping()).toBe(true);
  const up = await metric('moat_greylist_store_up');
  expect(up[0]?.value).toBe(1);
  const errors = await metric('moat_greylist_redis_errors_total');
  expect(errors.reduce((s, v) => s + v.value, 0)).toBeGreaterThan(0);
});

it('frozen (SIGSTOP): slower than timeoutMs fails open, once; SIGCONT recovers', async () => {
  const downBefore = events('greylist-store-down').length;
  const recoveredBefore = events('greylist-store-recovered').length;
  redis.daemon().process.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    const a = await gl.check(req(2000));
    expect(a).toMatchObject({ action: 'pass', reason: 'fail-open' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await gl.check(req(2001))).toMatchObject({ reason: 'fail-open' });
    expect(events('greylist-store-down')).toHaveLength(downBefore + 1);
    const timeouts = (await metric('moat_greylist_redis_errors_total')).find((v) => v.labels.kind === 'timeout');
    expect(timeouts?.value).toBeGreaterThanOrEqual(2);
  } finally {
    redis.daemon().process.kill('SIGCONT');
  }
  await waitFor(async () => (await gl.check(req(3000))).action === 'defer', 15_000, 'greylisting to resume');
  expect(events('greylist-store-recovered')).toHaveLength(recoveredBefore + 1);
});

it('a flapping store (slow now and then) logs one outage per interval, not one per hiccup', async () => {
  const flapLog = captureLogger();
  const flappy = createGreylist({ redis: { url: redis.url }, clock, timeoutMs: 100, registry: createRegistry(), logger: flapLog.logger });
  try {
    await flappy.ping();
    for (let i = 0; i < 3; i++) {
      redis.daemon().process.kill('SIGSTOP');
      try {
        expect(await flappy.check(req(4000 + i))).toMatchObject({ reason: 'fail-open' });
      } finally {
        redis.daemon().process.kill('SIGCONT');
      }
      await waitFor(async () => (await flappy.check(req(5000 + i))).action === 'defer', 15_000, 'recovery');
    }
    expect(flapLog.lines().filter((l) => l.event === 'greylist-store-down')).toHaveLength(1);
    expect(flapLog.lines().filter((l) => l.event === 'greylist-store-recovered')).toHaveLength(1);
  } finally {
    await flappy.close();
  }
});
