// peek() against a real redis-server: in every state a decision can meet, it answers what check() then
// answers, and it writes nothing (every key, field and expiry time the same before and after).
import { describe, expect, it } from 'vitest';
import { type Greylist, GreylistStoreError } from '../src/index.ts';
import { greylistOnRedis, settableClock, triplet } from './helpers.ts';

const { make, raw } = greylistOnRedis();
const req = triplet;

/** Everything Redis holds: DBSIZE, and per key its type, contents and absolute expiry (PEXPIRETIME). */
async function snapshot(): Promise<unknown> {
  const keys = (await raw().keys('*')).sort();
  const out: Record<string, unknown> = { dbsize: await raw().dbsize() };
  for (const k of keys) {
    const type = await raw().type(k);
    const value = type === 'hash' ? await raw().hgetall(k) : type === 'zset' ? await raw().zrange(k, '0', '-1', 'WITHSCORES') : type;
    out[k] = { value, expires: await raw().call('PEXPIRETIME', k) };
  }
  return out;
}

/** peek() writes nothing and answers what the check() right after it answers; returns that answer. */
async function agree(gl: Greylist, r: ReturnType<typeof req>) {
  const before = await snapshot();
  const peeked = await gl.peek(r);
  expect(await snapshot()).toEqual(before);
  expect(await gl.check(r)).toEqual(peeked);
  return peeked;
}

describe('peek', () => {
  it('new, early retry, retry after the delay, known: the same answers as check(), nothing written', async () => {
    const clock = settableClock();
    const gl = make(clock);
    expect(await agree(gl, req())).toMatchObject({ action: 'defer', retryAfter: 60 });
    clock.advance(30);
    expect(await agree(gl, req())).toMatchObject({ action: 'defer', retryAfter: 30 });
    clock.advance(31);
    const pass = await agree(gl, req());
    expect(pass).toMatchObject({ action: 'pass', reason: 'retry', detail: 'delayed 61 seconds (3 attempts, net:203.0.113.0/24)' });
    expect(pass.action === 'pass' && pass.header).toMatch(/^X-Greylist: delayed 61 seconds by moat-greylist at mx-test\.example; /);
    clock.advance(10);
    expect(await agree(gl, req())).toMatchObject({ action: 'pass', reason: 'known' });
  });

  it('a confirmed triplet past its TTL and an unconfirmed one past the retry window start again (defer)', async () => {
    const clock = settableClock();
    const gl = make(clock, { confirmedTtlMs: 86_400_000, retryWindowMs: 3_600_000, autoWhitelistClients: 0 });
    await gl.check(req());
    clock.advance(61);
    expect((await gl.check(req())).action).toBe('pass');
    // Redis's own TTL runs on the real clock, so the keys are still there: the script's dates decide.
    clock.advance(86_401);
    expect(await agree(gl, req())).toMatchObject({ action: 'defer', retryAfter: 60 });
    const other = req({ recipient: 'carol@rcpt.example' });
    await gl.check(other);
    clock.advance(3601);
    expect(await agree(gl, other)).toMatchObject({ action: 'defer', retryAfter: 60 });
  });

  it('auto-whitelist, and an auto-whitelist entry past its TTL', async () => {
    const clock = settableClock();
    const gl = make(clock, { autoWhitelistTtlMs: 86_400_000 });
    for (let i = 0; i < 5; i++) {
      const r = req({ recipient: `user${i}@rcpt.example` });
      await gl.check(r);
      clock.advance(61);
      await gl.check(r);
      clock.advance(300);
    }
    expect(await agree(gl, req({ sender: 'new@other.example', recipient: 'never@rcpt.example' }))).toMatchObject({ action: 'pass', reason: 'auto-whitelist' });
    clock.advance(86_401);
    expect(await agree(gl, req({ sender: 'new2@other.example', recipient: 'never2@rcpt.example' }))).toMatchObject({ action: 'defer' });
  });

  it('static and admin whitelists; the admin whitelist as another node just wrote it', async () => {
    const clock = settableClock();
    const gl = make(clock, { whitelist: { clients: ['198.51.100.0/24'], recipients: ['postmaster@'] } });
    expect(await agree(gl, req({ clientAddress: '198.51.100.7' }))).toMatchObject({ action: 'pass', reason: 'whitelist' });
    expect(await agree(gl, req({ recipient: 'postmaster@rcpt.example' }))).toMatchObject({ action: 'pass', reason: 'whitelist' });
    // Whitelisted through another node: peek re-reads the admin whitelist (check() sees it at its next refresh).
    await make(clock).whitelistClient('192.0.2.0/24');
    expect(await gl.peek(req({ clientAddress: '192.0.2.9' }))).toMatchObject({ action: 'pass', reason: 'whitelist', detail: 'whitelisted client (admin)' });
    await gl.refreshWhitelist();
    expect(await agree(gl, req({ clientAddress: '192.0.2.9' }))).toMatchObject({ action: 'pass', reason: 'whitelist' });
  });

  it("without an injected clock: the Redis server's TIME, still nothing written", async () => {
    const gl = make(undefined);
    const before = await snapshot();
    expect(await gl.peek(req())).toMatchObject({ action: 'defer', retryAfter: 60 });
    expect(await snapshot()).toEqual(before);
  });

  it('throws GreylistStoreError where check() fails open', async () => {
    const gl = make(settableClock(), { redis: { url: 'redis://127.0.0.1:1' }, timeoutMs: 100 });
    expect(await gl.check(req())).toMatchObject({ action: 'pass', reason: 'fail-open' });
    const e = await gl.peek(req()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GreylistStoreError);
    expect(e).toMatchObject({ code: 'GREYLIST_UNAVAILABLE' });
  });
});
