// Two gateways sharing one real redis-server for their rate limits, as the MX hosts of a cluster do: a login
// limited to 30 messages per minute gets 450 4.7.1 on its 31st on either MX; AUTH failures spread over both
// stop the brute force; client limits answer with Postfix's words; Redis down: mail passes, counted.
// An injected clock stands for Redis TIME, so nothing here depends on how fast the machine is.
import { createLogger, createRegistry } from '@moat/observe';
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from '@moat/ratelimit';
import { authPlain, type RedisServer, SmtpClient, startRedis } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticatorFor, startTestMx, type TestMx, userHash } from './harness.ts';

let redis: RedisServer;
const limiters: RateLimiter[] = [];
const gateways: TestMx[] = [];
let seconds = 1_800_000_000;
const clock = { now: () => seconds * 1000 };
const registry = createRegistry();

function limiter(opts: Partial<RateLimiterOptions>): RateLimiter {
  const l = createRateLimiter({
    redis: { url: redis.url },
    limits: {},
    clock,
    exceptions: [],
    registry,
    logger: createLogger('ratelimit', { level: process.env.MOAT_TEST_LOG ?? 'silent' }),
    ...opts,
  });
  limiters.push(l);
  return l;
}

let mx1: TestMx;
let mx2: TestMx;
beforeAll(async () => {
  redis = await startRedis();
  const alice = (await userHash('correct horse'))!;
  // the per-node failure limit is set high: only the shared count can stop a brute force spread over nodes
  const authenticator = authenticatorFor({ alice }, 100);
  const limits = { sasl_user_message_rate_limit: 30, auth_failure_limit: 3 };
  for (let i = 0; i < 2; i++) {
    gateways.push(await startTestMx({ authenticator, rateLimits: limiter({ limits, authFailureWindowSeconds: 600 }) }));
  }
  [mx1, mx2] = gateways as [TestMx, TestMx];
}, 60_000);
afterAll(async () => {
  for (const g of gateways) await g.close();
  for (const l of limiters) await l.close();
  await redis?.stop();
});

async function session(port: number, user?: { name: string; password: string }): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port);
  await c.read();
  await c.cmd('EHLO client.example');
  if (user) {
    await c.starttls();
    await c.cmd('EHLO client.example');
    const r = await c.cmd(`AUTH PLAIN ${authPlain(user.name, user.password)}`);
    expect(`${r.code} ${r.text}`).toBe('235 2.7.0 Authentication successful');
  }
  return c;
}
const line = (r: { code: number; text: string }) => `${r.code} ${r.text}`;

describe('two MX hosts, one Redis', () => {
  it('a login limited to 30 messages a minute gets 450 4.7.1 on its 31st, on either MX', async () => {
    const alice = { name: 'alice', password: 'correct horse' };
    const c1 = await session(mx1.port, alice);
    const c2 = await session(mx2.port, alice);
    const queued = mx1.enqueued.length + mx2.enqueued.length;
    for (let i = 0; i < 30; i++) {
      const c = i % 2 ? c2 : c1;
      expect(line(await c.cmd('MAIL FROM:<alice@sender.example>'))).toMatch(/^250 /);
      expect(line(await c.cmd('RCPT TO:<rcpt@example.org>'))).toMatch(/^250 /);
      expect(line(await c.data(`Subject: ${i}\r\n\r\nmessage ${i}\r\n`))).toMatch(/^250 2\.0\.0 Ok: queued as/);
    }
    expect(mx1.enqueued.length + mx2.enqueued.length - queued).toBe(30);
    expect(line(await c1.cmd('MAIL FROM:<alice@sender.example>'))).toBe('450 4.7.1 Error: too much mail from alice');
    expect(line(await c2.cmd('MAIL FROM:<alice@sender.example>'))).toBe('450 4.7.1 Error: too much mail from alice');
    // a fresh session on either MX is refused too: the count is the login's, not the session's
    const c3 = await session(mx2.port, alice);
    expect(line(await c3.cmd('MAIL FROM:<alice@sender.example>'))).toBe('450 4.7.1 Error: too much mail from alice');
    // the console's view
    expect(await limiters[0]!.list()).toEqual([expect.objectContaining({ limit: 'sasl_user_message_rate_limit', subject: 'alice', count: 33, max: 30, refused: 3 })]);
    expect(await mx1.registry.getSingleMetricAsString('moat_mx_rejects_total')).toMatch(/stage="mail",restriction="sasl_user_message_rate_limit",code="450"} 1/);
    // the next time unit: alice sends again
    seconds += 61;
    expect(line(await c1.cmd('MAIL FROM:<alice@sender.example>'))).toMatch(/^250 /);
    for (const c of [c1, c2, c3]) await c.quit();
  });

  it('AUTH failures spread over both MX stop the brute force: 454 4.7.0 even for the right password, on either', async () => {
    seconds += 1000;
    for (const [mx, n] of [[mx1, 1], [mx2, 1], [mx1, 1]] as const) {
      const c = await session(mx.port);
      await c.starttls();
      await c.cmd('EHLO client.example');
      for (let i = 0; i < n; i++) expect(line(await c.cmd(`AUTH PLAIN ${authPlain('alice', 'guess')}`))).toBe('535 5.7.8 Authentication credentials invalid');
      await c.quit();
    }
    for (const mx of [mx2, mx1]) {
      const c = await session(mx.port);
      await c.starttls();
      await c.cmd('EHLO client.example');
      expect(line(await c.cmd(`AUTH PLAIN ${authPlain('alice', 'correct horse')}`))).toBe('454 4.7.0 Too many failed authentication attempts, try again later');
      await c.quit();
    }
    expect(await registry.getSingleMetricAsString('moat_ratelimit_hits_total')).toMatch(/limit="auth_failure_limit"} 2/);
    // the failure window passes
    seconds += 601;
    await session(mx2.port, { name: 'alice', password: 'correct horse' }).then((c) => c.quit());
  });

  it("client limits answer with Postfix's words, naming the client address", async () => {
    const mx3 = await startTestMx({ rateLimits: limiter({ limits: { smtpd_client_message_rate_limit: 1, smtpd_client_recipient_rate_limit: 2 } }) });
    gateways.push(mx3);
    seconds += 1000;
    const c = await session(mx3.port);
    expect(line(await c.cmd('MAIL FROM:<someone@sender.example>'))).toMatch(/^250 /);
    // greylisted (the harness's fake greylist) but counted: anvil counts recipients accepted or not
    expect(line(await c.cmd('RCPT TO:<rcpt@example.org>'))).toMatch(/Greylisted/);
    expect(line(await c.cmd('RCPT TO:<bob@example.org>'))).toMatch(/Greylisted/);
    expect(line(await c.cmd('RCPT TO:<postmaster@example.org>'))).toBe('450 4.7.1 Error: too many recipients from 127.0.0.1');
    await c.cmd('RSET');
    expect(line(await c.cmd('MAIL FROM:<someone@sender.example>'))).toBe('450 4.7.1 Error: too much mail from 127.0.0.1');
    await c.quit();
  });

  it('Redis down: mail and AUTH pass (fail open), each check counted', async () => {
    seconds += 1000;
    const failOpens = async () => (await registry.getSingleMetric('moat_ratelimit_fail_open_total')?.get())?.values[0]?.value ?? 0;
    const before = await failOpens();
    await redis.kill();
    const c = await session(mx1.port, { name: 'alice', password: 'correct horse' });
    for (let i = 0; i < 3; i++) {
      expect(line(await c.cmd('MAIL FROM:<alice@sender.example>'))).toMatch(/^250 /);
      expect(line(await c.cmd('RCPT TO:<rcpt@example.org>'))).toMatch(/^250 /);
      expect(line(await c.data('Subject: during the outage\r\n\r\nhello\r\n'))).toMatch(/^250 2\.0\.0 Ok: queued as/);
    }
    await c.quit();
    // one AUTH check and three MAIL checks (this listener has no recipient limit: no RCPT check)
    expect((await failOpens()) - before).toBe(4);
  });
});
