// The greylist against a real redis-server: delay and window on an injected clock, expiry, normalisation,
// auto-whitelist, whitelists, the admin API, key layout (TTLs, hash tags) and one EVALSHA per decision.
import { createRegistry, type Registry } from '@moat/observe';
import { describe, expect, it } from 'vitest';
import { commandCalls, greylistOnRedis, settableClock, triplet } from './helpers.ts';

const { make, raw } = greylistOnRedis();
const req = triplet;

describe('delay and retry window', () => {
  it('defers first sight, defers an early retry, passes after the delay with the header, then knows it', async () => {
    const clock = settableClock();
    const gl = make(clock);
    expect(await gl.check(req())).toEqual({ action: 'defer', retryAfter: 60, detail: 'Greylisted, please retry in 60 seconds' });
    clock.advance(30);
    expect(await gl.check(req({ clientAddress: '203.0.113.99' }))).toMatchObject({ action: 'defer', retryAfter: 30 });
    clock.advance(31);
    const pass = await gl.check(req());
    expect(pass).toMatchObject({ action: 'pass', reason: 'retry' });
    expect(pass.action === 'pass' && pass.header).toBe(
      `X-Greylist: delayed 61 seconds by moat-greylist at mx-test.example; ${new Date(clock.now()).toUTCString().replace('GMT', '+0000').replace(/ 0(\d) /, ' $1 ')}`,
    );
    clock.advance(3600);
    const known = await gl.check(req());
    expect(known).toMatchObject({ action: 'pass', reason: 'known' });
    expect(known.action === 'pass' && known.header).toBeFalsy();
  });

  it('an unconfirmed triplet expires after the retry window, a confirmed one after confirmedTtlMs', async () => {
    const clock = settableClock();
    const gl = make(clock, { retryWindowMs: 3_600_000, confirmedTtlMs: 86_400_000, autoWhitelistClients: 0 });
    await gl.check(req());
    clock.advance(3601);
    expect(await gl.check(req())).toMatchObject({ action: 'defer', retryAfter: 60 });
    clock.advance(61);
    expect(await gl.check(req())).toMatchObject({ action: 'pass', reason: 'retry' });
    clock.advance(86_000);
    expect(await gl.check(req())).toMatchObject({ action: 'pass', reason: 'known' });
    clock.advance(86_401);
    expect(await gl.check(req())).toMatchObject({ action: 'defer', retryAfter: 60 });
  });

  it('uses the configured delay and the /24 grouping', async () => {
    const clock = settableClock();
    const gl = make(clock, { delayMs: 300_000 });
    expect(await gl.check(req())).toMatchObject({ action: 'defer', retryAfter: 300 });
    clock.advance(300);
    expect(await gl.check(req({ clientAddress: '203.0.113.250' }))).toMatchObject({ action: 'pass', reason: 'retry' });
    // Another /24 is another triplet.
    expect(await gl.check(req({ clientAddress: '203.0.114.10' }))).toMatchObject({ action: 'defer' });
  });
});

describe('metrics', () => {
  it('counts decisions by action and reason, the delay histogram, latency and the identity kind', async () => {
    const clock = settableClock();
    const registry: Registry = createRegistry();
    const gl = make(clock, { registry });
    await gl.check(req());
    await gl.check(req({ recipient: 'postmaster@rcpt.example' }));
    clock.advance(90);
    await gl.check(req());
    await gl.check(req());
    const get = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const decisions = await get('moat_greylist_decisions_total');
    const count = (action: string, reason: string) => decisions.find((v) => v.labels.action === action && v.labels.reason === reason)?.value;
    expect(count('defer', 'greylisted')).toBe(1);
    expect(count('pass', 'whitelist')).toBe(1);
    expect(count('pass', 'retry')).toBe(1);
    expect(count('pass', 'known')).toBe(1);
    const delay = await get('moat_greylist_delay_seconds');
    expect(delay.find((v) => (v as { metricName?: string }).metricName === 'moat_greylist_delay_seconds_sum')?.value).toBe(90);
    const latency = await get('moat_greylist_decision_seconds');
    expect(latency.filter((v) => (v as { metricName?: string }).metricName === 'moat_greylist_decision_seconds_count').reduce((s, v) => s + v.value, 0)).toBe(4);
    expect((await get('moat_greylist_identity_total')).find((v) => v.labels.kind === 'net')?.value).toBe(3);
    expect((await get('moat_greylist_store_up'))[0]?.value).toBe(1);
  });
});

describe('normalisation end to end', () => {
  it('a retry with a new BATV tag, VERP id, extension and case matches the first attempt', async () => {
    const clock = settableClock();
    const gl = make(clock);
    await gl.check(req({ sender: 'prvs=1123abcdef=News@Sender.example', recipient: 'Bob+lists@RCPT.example' }));
    await gl.check(req({ sender: 'bounces-4711-0815@lists.example', recipient: 'bob@rcpt.example' }));
    await gl.check(req({ sender: 'SRS0=abcd=T1=orig.example=carol@fwd.example', recipient: 'bob@rcpt.example' }));
    clock.advance(61);
    expect(await gl.check(req({ sender: 'prvs=1124fedcba=news@sender.example', recipient: 'bob@rcpt.example' }))).toMatchObject({ reason: 'retry' });
    expect(await gl.check(req({ sender: 'bounces-4712-0999@lists.example', recipient: 'bob+x@rcpt.example' }))).toMatchObject({ reason: 'retry' });
    expect(await gl.check(req({ sender: 'SRS0=zzzz=T2=orig.example=carol@fwd.example', recipient: 'bob@rcpt.example' }))).toMatchObject({ reason: 'retry' });
  });
});

describe('auto-whitelist', () => {
  it('after 5 counted deliveries the client passes new triplets at once; bursts count once', async () => {
    const clock = settableClock();
    const gl = make(clock);
    for (let i = 0; i < 5; i++) {
      const r = req({ recipient: `user${i}@rcpt.example` });
      expect(await gl.check(r)).toMatchObject({ action: 'defer' });
      clock.advance(61);
      expect(await gl.check(r)).toMatchObject({ reason: 'retry' });
      // Same message to a second MX / recipient within the burst: not a new delivery (the 5th makes it whitelisted).
      expect(await gl.check(r)).toMatchObject({ action: 'pass', reason: i < 4 ? 'known' : 'auto-whitelist' });
      clock.advance(300);
    }
    const inspect = await gl.inspect(req({ recipient: 'user0@rcpt.example' }));
    expect(inspect.candidates[0]?.autoWhitelist?.count).toBe(5);
    expect(await gl.check(req({ sender: 'new@other.example', recipient: 'never-seen@rcpt.example' }))).toMatchObject({
      action: 'pass',
      reason: 'auto-whitelist',
    });
    // Another client network is not whitelisted by it.
    expect(await gl.check(req({ clientAddress: '198.51.100.1', recipient: 'never-seen@rcpt.example' }))).toMatchObject({ action: 'defer' });
    // The admin can take it back.
    expect(await gl.remove({ autoWhitelist: { clientAddress: '203.0.113.10' } })).toBe(1);
    expect(await gl.check(req({ sender: 'new2@other.example', recipient: 'never-seen@rcpt.example' }))).toMatchObject({ action: 'defer' });
  });

  it('autoWhitelistClients: 0 turns it off', async () => {
    const clock = settableClock();
    const gl = make(clock, { autoWhitelistClients: 0 });
    for (let i = 0; i < 7; i++) {
      await gl.check(req({ recipient: `u${i}@rcpt.example` }));
      clock.advance(61);
      await gl.check(req({ recipient: `u${i}@rcpt.example` }));
      clock.advance(400);
    }
    expect(await gl.check(req({ recipient: 'fresh@rcpt.example' }))).toMatchObject({ action: 'defer' });
  });
});

describe('whitelists', () => {
  it('static client CIDRs, client names, recipients, recipient domains and the default list', async () => {
    const gl = make(settableClock(), {
      whitelist: { clients: ['192.0.2.0/25'], clientNames: ['*.friendly.example'], recipients: ['vip@rcpt.example'], recipientDomains: ['open.example'] },
    });
    expect(await gl.check(req({ clientAddress: '192.0.2.100' }))).toMatchObject({ reason: 'whitelist' });
    expect(await gl.check(req({ clientAddress: '192.0.2.200' }))).toMatchObject({ action: 'defer' });
    expect(await gl.check(req({ clientName: 'mx1.friendly.example' }))).toMatchObject({ reason: 'whitelist' });
    expect(await gl.check(req({ recipient: 'VIP@rcpt.example' }))).toMatchObject({ reason: 'whitelist' });
    expect(await gl.check(req({ recipient: 'x@open.example' }))).toMatchObject({ reason: 'whitelist' });
    expect(await gl.check(req({ recipient: 'postmaster@rcpt.example' }))).toMatchObject({ reason: 'whitelist' });
    expect(await gl.check(req({ clientAddress: '209.85.220.41', clientName: 'mail-sor-f41.google.com' }))).toMatchObject({ reason: 'whitelist' });
    const noDefaults = make(settableClock(), { defaultWhitelist: false });
    expect(await noDefaults.check(req({ clientAddress: '209.85.220.41' }))).toMatchObject({ action: 'defer' });
  });

  it('whitelistClient through Redis reaches every node; remove takes it back', async () => {
    const clock = settableClock();
    const mx1 = make(clock);
    const mx2 = make(clock);
    await mx1.whitelistClient('198.51.100.0/24', 3600);
    expect(await mx1.check(req({ clientAddress: '198.51.100.7' }))).toMatchObject({ reason: 'whitelist' });
    await mx2.refreshWhitelist();
    expect(await mx2.check(req({ clientAddress: '198.51.100.8' }))).toMatchObject({ reason: 'whitelist' });
    expect(await raw().ttl('moat:gl:wl:clients')).toBeGreaterThan(3000);
    expect(await mx2.remove({ cidr: '198.51.100.0/24' })).toBe(1);
    await mx1.refreshWhitelist();
    expect(await mx1.check(req({ clientAddress: '198.51.100.7' }))).toMatchObject({ action: 'defer' });
    // An expired entry no longer counts.
    await mx1.whitelistClient('198.51.101.0/24', 60);
    clock.advance(61);
    await mx1.refreshWhitelist();
    expect(await mx1.check(req({ clientAddress: '198.51.101.7' }))).toMatchObject({ action: 'defer' });
  });
});

describe('admin API', () => {
  it('inspect, listStuck, remove', async () => {
    const clock = settableClock();
    const gl = make(clock);
    await gl.check(req({ sender: 'stuck@spam.example', clientAddress: '233.252.0.5' }));
    clock.advance(10);
    await gl.check(req({ sender: 'stuck@spam.example', clientAddress: '233.252.0.6' }));
    await gl.check(req());
    clock.advance(61);
    await gl.check(req());
    clock.advance(100);
    const stuck = await gl.listStuck(10);
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({
      identity: 'net:233.252.0.0/24',
      client: '233.252.0.6',
      sender: 'stuck@spam.example',
      recipient: 'bob@rcpt.example',
      attempts: 2,
      lastSeen: (stuck[0]?.firstSeen ?? 0) + 10,
    });
    const info = await gl.inspect(req());
    expect(info.identity).toBe('net:203.0.113.0/24');
    expect(info.candidates[0]?.triplet).toMatchObject({ attempts: 2, passes: 1, sender: 'alice@sender.example' });
    expect(info.candidates[0]?.triplet?.ttl).toBeGreaterThan(34 * 86400);
    expect(await gl.remove({ triplet: req() })).toBe(1);
    expect((await gl.inspect(req())).candidates[0]?.triplet).toBeUndefined();
  });
});

describe('Redis key layout and round trips', () => {
  it('every key has a TTL, and both keys of a decision share one hash tag', async () => {
    const clock = settableClock();
    const gl = make(clock);
    for (let i = 0; i < 10; i++) await gl.check(req({ clientAddress: `192.0.2.${i * 25}`, recipient: `r${i}@rcpt.example` }));
    clock.advance(61);
    for (let i = 0; i < 10; i++) await gl.check(req({ clientAddress: `192.0.2.${i * 25}`, recipient: `r${i}@rcpt.example` }));
    await gl.whitelistClient('10.1.0.0/16');
    const keys = await raw().keys('*');
    expect(keys.length).toBeGreaterThan(10);
    for (const k of keys) {
      expect(k.startsWith('moat:gl:')).toBe(true);
      expect(await raw().ttl(k), k).toBeGreaterThan(0);
    }
    const tags = new Set(keys.filter((k) => k.includes('{')).map((k) => /\{([^}]*)\}/.exec(k)?.[1]));
    expect([...tags]).toEqual(['net:192.0.2.0/24']);
    expect(keys.filter((k) => k.endsWith(':awl'))).toEqual(['moat:gl:{net:192.0.2.0/24}:awl']);
  });

  it('one EVALSHA per decision, and NOSCRIPT after a flush falls back by itself', async () => {
    const clock = settableClock();
    const gl = make(clock);
    await gl.check(req()); // loads the script
    await raw().config('RESETSTAT');
    for (let i = 0; i < 25; i++) await gl.check(req({ recipient: `n${i}@rcpt.example` }));
    const calls = await commandCalls(raw());
    expect(calls.evalsha).toBe(25);
    expect(calls.eval ?? 0).toBe(0);
    await raw().script('FLUSH');
    expect(await gl.check(req({ recipient: 'after-flush@rcpt.example' }))).toMatchObject({ action: 'defer' });
    expect(await gl.check(req({ recipient: 'after-flush2@rcpt.example' }))).toMatchObject({ action: 'defer' });
  });

  it("without an injected clock the Redis server's TIME decides", async () => {
    const gl = make(undefined as never, { clock: undefined, delayMs: 1000 });
    expect(await gl.check(req())).toMatchObject({ action: 'defer', retryAfter: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    expect(await gl.check(req())).toMatchObject({ action: 'pass', reason: 'retry' });
    const [t] = await raw().time();
    const rec = (await gl.inspect(req())).candidates[0]?.triplet;
    expect(Math.abs(Number(t) - (rec?.firstSeen ?? 0))).toBeLessThan(10);
  });
});
