// The windows, limits, exemptions and read-only views against a real redis-server, with an injected clock
// (anvil's fixed window: no timed assertions). Two limiters on one Redis stand for two MX hosts.
import { createRegistry, type Registry } from '@moat/observe';
import { type RedisServer, startRedis } from '@moat/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from '../src/index.ts';
import { captureLogger, settableClock } from './helpers.ts';

let redis: RedisServer;
let raw: Redis;
const open: RateLimiter[] = [];
beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.port, redis.host);
});
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  await raw.flushall();
});
afterAll(async () => {
  raw.disconnect();
  await redis.stop();
});

function limiter(opts: Partial<RateLimiterOptions> & Pick<RateLimiterOptions, 'limits'>, registry: Registry = createRegistry()) {
  const l = createRateLimiter({ redis: { url: redis.url }, registry, logger: captureLogger('silent').logger, ...opts });
  open.push(l);
  return l;
}
const hits = async (r: Registry, limit: string) =>
  ((await r.getSingleMetric('moat_ratelimit_hits_total')?.get())?.values ?? []).find((v) => v.labels.limit === limit)?.value ?? 0;

describe('anvil windows (fixed, from the first event, reset once start + unit < now)', () => {
  it('the limit+1st MAIL of a client is refused; the count restarts after the time unit', async () => {
    const clock = settableClock();
    const rl = limiter({ limits: { smtpd_client_message_rate_limit: 3 }, clock });
    const e = { client: '203.0.113.5' };
    for (let i = 0; i < 3; i++) expect(await rl.mail(e)).toEqual({ ok: true });
    expect(await rl.mail(e)).toEqual({ ok: false, limit: 'smtpd_client_message_rate_limit', subject: '203.0.113.5', count: 4, max: 3, windowSeconds: 60 });
    // refused commands are counted too, as anvil does
    expect(await rl.mail(e)).toMatchObject({ ok: false, count: 5 });
    // another client has its own counter
    expect(await rl.mail({ client: '203.0.113.6' })).toEqual({ ok: true });
    clock.advance(60); // start + 60 < now is false: still the same window (anvil's strict comparison)
    expect(await rl.mail(e)).toMatchObject({ ok: false, count: 6 });
    clock.advance(1);
    expect(await rl.mail(e)).toEqual({ ok: true });
    expect(await rl.peek('smtpd_client_message_rate_limit', '203.0.113.5')).toMatchObject({ count: 1, max: 3, limited: false, refused: 0, service: 'smtp' });
  });

  it('counts are shared by every MX on the Redis: two limiters, one budget', async () => {
    const clock = settableClock();
    const mx1 = limiter({ limits: { smtpd_client_recipient_rate_limit: 4 }, clock });
    const mx2 = limiter({ limits: { smtpd_client_recipient_rate_limit: 4 }, clock });
    const e = { client: '198.51.100.7' };
    const answers = [await mx1.rcpt(e), await mx2.rcpt(e), await mx1.rcpt(e), await mx2.rcpt(e), await mx1.rcpt(e), await mx2.rcpt(e)];
    expect(answers.map((a) => a.ok)).toEqual([true, true, true, true, false, false]);
  });

  it('concurrent checks from two limiters never lose or double a count (one atomic script each)', async () => {
    const clock = settableClock();
    const mx1 = limiter({ limits: { sasl_user_message_rate_limit: 50 }, clock });
    const mx2 = limiter({ limits: { sasl_user_message_rate_limit: 50 }, clock });
    const all = await Promise.all(Array.from({ length: 80 }, (_, i) => (i % 2 ? mx1 : mx2).mail({ client: `192.0.2.${i}`, user: 'Alice' })));
    expect(all.filter((a) => a.ok)).toHaveLength(50);
    expect(await mx1.peek('sasl_user_message_rate_limit', 'alice')).toMatchObject({ count: 80, limited: true, refused: 30 });
  });

  it('per-service client counters (port 25 and submission apart, as anvil), one budget per login across services', async () => {
    const clock = settableClock();
    const rl = limiter({ limits: { smtpd_client_message_rate_limit: 1, sasl_user_message_rate_limit: 2 }, clock });
    expect(await rl.mail({ client: '192.0.2.1', service: 'smtp' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '192.0.2.1', service: 'submission', user: 'bob' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '192.0.2.2', service: 'submission', user: 'bob' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '192.0.2.3', service: 'submission', user: 'bob' })).toMatchObject({ ok: false, limit: 'sasl_user_message_rate_limit', subject: 'bob', count: 3, max: 2 });
    // the client limit is checked first: both over, the client's decides
    expect(await rl.mail({ client: '192.0.2.1', service: 'smtp', user: 'bob' })).toMatchObject({ ok: false, limit: 'smtpd_client_message_rate_limit' });
  });

  it('0 turns a limit off (no Redis call at all); logins only count when the session has one', async () => {
    const rl = limiter({ limits: { smtpd_client_message_rate_limit: 0, sasl_user_message_rate_limit: 1 } });
    const before = Number(/total_commands_processed:(\d+)/.exec(await raw.info('stats'))?.[1]);
    for (let i = 0; i < 5; i++) expect(await rl.mail({ client: '192.0.2.9' })).toEqual({ ok: true });
    const after = Number(/total_commands_processed:(\d+)/.exec(await raw.info('stats'))?.[1]);
    expect(after - before).toBeLessThanOrEqual(1); // the INFO itself
    expect([...rl.active]).toEqual(['sasl_user_message_rate_limit']);
  });
});

describe('exemptions and networks', () => {
  it('smtpd_client_event_limit_exceptions skip the client limits, never the login limits', async () => {
    const rl = limiter({ limits: { smtpd_client_message_rate_limit: 1, sasl_user_message_rate_limit: 1 }, exceptions: ['192.0.2.0/24', '[2001:db8::]/32'], clock: settableClock() });
    for (let i = 0; i < 3; i++) expect(await rl.mail({ client: '192.0.2.77' })).toEqual({ ok: true });
    for (let i = 0; i < 3; i++) expect(await rl.mail({ client: '2001:db8::1' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '192.0.2.77', user: 'carol' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '192.0.2.77', user: 'carol' })).toMatchObject({ ok: false, limit: 'sasl_user_message_rate_limit' });
  });

  it('IPv6 clients are counted per /84 (Postfix 3.8 smtpd_client_ipv6_prefix_length), IPv4 per address', async () => {
    const rl = limiter({ limits: { smtpd_client_message_rate_limit: 2 }, clock: settableClock() });
    expect(await rl.mail({ client: '2001:db8:1:2:3::1' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '2001:db8:1:2:3::2' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '2001:db8:1:2:3::3' })).toMatchObject({ ok: false, subject: '2001:db8:1:2:3::3' });
    expect(await rl.mail({ client: '2001:db8:1:2:4::1' })).toEqual({ ok: true }); // another /84
    expect(await rl.mail({ client: '192.0.2.1' })).toEqual({ ok: true });
    expect(await rl.mail({ client: '192.0.2.2' })).toEqual({ ok: true });
    expect(await rl.peek('smtpd_client_message_rate_limit', '2001:db8:1:2:3::99')).toMatchObject({ subject: '2001:db8:1:2:3::/84', count: 3 });
  });
});

describe('AUTH', () => {
  it('N failures from a client over any limiter: further AUTH refused until the failure window passes', async () => {
    const clock = settableClock();
    const registry = createRegistry();
    const opts = { limits: { auth_failure_limit: 3 }, authFailureWindowSeconds: 600, clock };
    const mx1 = limiter(opts, registry);
    const mx2 = limiter(opts, registry);
    const e = { client: '203.0.113.44' };
    for (const mx of [mx1, mx2, mx1]) {
      expect(await mx.auth(e)).toEqual({ ok: true });
      await mx.authFailed(e);
    }
    expect(await mx2.auth(e)).toEqual({ ok: false, limit: 'auth_failure_limit', subject: '203.0.113.44', count: 3, max: 3, windowSeconds: 600 });
    expect(await mx1.auth(e)).toMatchObject({ ok: false });
    expect(await mx1.auth({ client: '203.0.113.45' })).toEqual({ ok: true });
    expect(await hits(registry, 'auth_failure_limit')).toBe(2);
    expect(await mx1.list()).toEqual([
      expect.objectContaining({ limit: 'auth_failure_limit', subject: '203.0.113.44', count: 3, max: 3, refused: 2, limited: true, windowEnd: 1_800_000_600 }),
    ]);
    clock.advance(601);
    expect(await mx2.auth(e)).toEqual({ ok: true });
    expect(await mx1.list()).toEqual([]);
  });

  it('smtpd_client_auth_rate_limit counts AUTH commands, failed or not', async () => {
    const rl = limiter({ limits: { smtpd_client_auth_rate_limit: 2 }, clock: settableClock() });
    expect((await Promise.all([1, 2, 3].map(() => rl.auth({ client: '192.0.2.3' })))).map((a) => a.ok).sort()).toEqual([false, true, true]);
  });
});

describe('list() and the log', () => {
  it('lists who is limited now, most refused first, with one log line per refusal naming the limit, subject and count', async () => {
    const log = captureLogger();
    const clock = settableClock();
    const rl = createRateLimiter({ redis: { url: redis.url }, limits: { smtpd_client_message_rate_limit: 1, sasl_user_recipient_rate_limit: 2 }, clock, registry: createRegistry(), logger: log.logger });
    open.push(rl);
    await rl.mail({ client: '192.0.2.10' });
    await rl.mail({ client: '192.0.2.10' });
    for (let i = 0; i < 5; i++) await rl.rcpt({ client: '192.0.2.11', user: 'dave', service: 'submission' });
    await rl.mail({ client: '192.0.2.12' }); // at the limit, not over it: not listed
    const listed = await rl.list();
    expect(listed.map((s) => [s.limit, s.subject, s.count, s.refused, s.service])).toEqual([
      ['sasl_user_recipient_rate_limit', 'dave', 5, 3, undefined],
      ['smtpd_client_message_rate_limit', '192.0.2.10', 2, 1, 'smtp'],
    ]);
    const lines = log.lines().filter((l) => l.event === 'rate-limit');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ level: 40, limit: 'smtpd_client_message_rate_limit', client: '192.0.2.10', count: 2, max: 1, command: 'mail' });
    expect(lines[3]).toMatchObject({ limit: 'sasl_user_recipient_rate_limit', user: 'dave', client: '192.0.2.11', count: 5, service: 'submission' });
  });
});
