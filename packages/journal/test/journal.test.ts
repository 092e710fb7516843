// The journal against a real redis-server: append, index, cap, TTL, and failing open when Redis is gone.
import { createLogger, createRegistry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { freePort, type RedisServer, startRedis } from '@moat/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OPS } from '../src/batch.ts';
import { createJournal, type Journal, queueKey, sessionKey, streamKey } from '../src/index.ts';

const logger = createLogger('test', { level: 'silent' });
const facts = (session: string, over: Partial<Facts> = {}): Facts => ({
  stage: 'rcpt',
  clientAddress: '192.0.2.7',
  helo: 'mail.example.net',
  sender: 'a@example.net',
  recipient: 'b@example.org',
  tls: false,
  sessionId: session,
  ...over,
});
const deferred: Verdict = {
  action: 'defer',
  status: '4.7.1',
  text: 'Greylisted, see https://postgrey.schweikert.ch/help/example.org.html',
  decidedBy: 'check_policy_service inet:127.0.0.1:10023',
  decidedByType: 'check_policy_service',
  greylisted: true,
  prepend: [],
  trace: [
    { restriction: 'reject_unauth_destination', list: 'relay', outcome: 'dunno', ms: 0.01 },
    { restriction: 'reject_rbl_client zen.example', list: 'recipient', outcome: 'dunno', ms: 2 },
    { restriction: 'check_policy_service inet:127.0.0.1:10023', list: 'recipient', outcome: 'defer', reason: 'greylisted for 60s', ms: 1 },
  ],
};

let redis: RedisServer;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

const open = (over: Partial<Parameters<typeof createJournal>[0]> = {}) =>
  createJournal({ redis: { url: redis.url }, registry: createRegistry(), logger, node: 'mx-test', ...over });

describe('journal on redis-server', () => {
  let j: Journal;
  beforeAll(() => {
    // a generous budget: these tests read back what was written, and a loaded machine may take its time
    j = open({ prefix: 'j1:', ttlMs: 3_600_000, timeoutMs: 5000 });
  });
  afterAll(() => j.close());

  it('appends decisions with their trace and reads them back by session and queue id', async () => {
    j.record(facts('S1', { stage: 'mail' }), { ...deferred, action: 'continue', status: '2.0.0', decidedBy: undefined, greylisted: undefined });
    j.record(facts('S1'), deferred, { reply: 'action=DEFER_IF_PERMIT', ms: 3.2 });
    j.record(facts('S2'), deferred, { queueId: 'Q123' });
    await j.flush();

    const s1 = await j.bySession('S1');
    expect(s1.map((e) => e.verdict.action)).toEqual(['continue', 'defer']);
    expect(s1[1]).toMatchObject({ node: 'mx-test', session: 'S1', reply: 'action=DEFER_IF_PERMIT', ms: 3.2, facts: { recipient: 'b@example.org' } });
    expect(s1[1]!.verdict.trace).toEqual(deferred.trace);

    expect((await j.byQueueId('Q123')).map((e) => e.session)).toEqual(['S2']);
    const recent = await j.recent({ count: 2 });
    expect(recent.map((e) => e.session)).toEqual(['S2', 'S1']);
    const older = await j.recent({ count: 10, before: recent[1]!.id });
    expect(older.map((e) => e.verdict.action)).toEqual(['continue']);
    expect(await j.bySession('nope')).toEqual([]);
  });

  it('links a session to the queue id its message got later', async () => {
    j.record(facts('S3'), { ...deferred, action: 'continue', decidedBy: undefined });
    await j.flush();
    j.linkQueueId('S3', 'Q9');
    await j.flush();
    expect((await j.byQueueId('Q9')).map((e) => e.session)).toEqual(['S3']);
  });

  it('sends the writes of one event-loop turn as one script call, in order (a link sees the appends before it)', async () => {
    const calls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
    const before = await calls();
    j.record(facts('S5', { stage: 'helo' }), { ...deferred, action: 'continue', decidedBy: undefined });
    j.record(facts('S6'), deferred);
    j.record(facts('S5'), deferred, { reply: '450 4.7.1 Greylisted' });
    j.linkQueueId('S5', 'Q5');
    await j.flush();
    expect((await calls()) - before).toBe(1);
    expect((await j.byQueueId('Q5')).map((e) => `${e.session} ${e.facts.stage}`)).toEqual(['S5 helo', 'S5 rcpt']);
    expect((await j.recent({ count: 3 })).map((e) => e.session)).toEqual(['S5', 'S6', 'S5']);
    expect(await raw.ttl(queueKey('j1:', 'Q5'))).toBeGreaterThan(3000);
  });

  it('fails only the write whose key holds another type; the turn\'s other writes are stored and count ok', async () => {
    const registry = createRegistry();
    const w = open({ prefix: 'j4:', registry, timeoutMs: 5000 });
    await raw.set(sessionKey('j4:', 'BAD'), 'a string, not a list');
    w.record(facts('W1'), deferred);
    w.record(facts('BAD'), deferred); // XADD applies, its session index RPUSH gets WRONGTYPE
    w.record(facts('W2'), deferred);
    w.linkQueueId('BAD', 'QB'); // LRANGE on the string: WRONGTYPE
    w.linkQueueId('W1', 'QW');
    await w.flush();
    expect((await w.bySession('W1')).length).toBe(1);
    expect((await w.bySession('W2')).length).toBe(1);
    expect((await w.byQueueId('QW')).map((e) => e.session)).toEqual(['W1']);
    expect(await raw.get(sessionKey('j4:', 'BAD'))).toBe('a string, not a list');
    const text = await registry.metrics();
    expect(text).toContain('moat_journal_writes_total{result="ok"} 3');
    expect(text).toContain('moat_journal_writes_total{result="error"} 2');
    expect(text).toContain('moat_journal_pending 0');
    await w.close();
  });

  it('splits a busy turn into calls of at most MAX_OPS writes, still in order', async () => {
    const calls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
    const before = await calls();
    for (let i = 0; i < 2 * MAX_OPS + 10; i++) j.record(facts('B1', { helo: `h${i}` }), deferred);
    j.linkQueueId('B1', 'QB1'); // in the third call: sees every append of the first two
    await j.flush();
    expect((await calls()) - before).toBe(3);
    const all = await j.byQueueId('QB1');
    expect(all.map((e) => e.facts.helo)).toEqual(Array.from({ length: 2 * MAX_OPS + 10 }, (_, i) => `h${i}`));
  });

  it('bounds every key with a TTL and the stream with MAXLEN', async () => {
    expect(await raw.ttl(streamKey('j1:'))).toBeGreaterThan(3000);
    expect(await raw.ttl(sessionKey('j1:', 'S1'))).toBeGreaterThan(3000);
    expect(await raw.ttl(queueKey('j1:', 'Q123'))).toBeGreaterThan(3000);

    const small = open({ prefix: 'j2:', maxLen: 10 });
    for (let i = 0; i < 500; i++) small.record(facts(`T${i}`), deferred);
    await small.flush();
    // MAXLEN ~ trims whole macro nodes (100 entries by default): approximately, never unbounded.
    expect(await raw.xlen(streamKey('j2:'))).toBeLessThanOrEqual(200);
    expect((await small.recent({ count: 1 }))[0]?.session).toBe('T499');
    await small.close();
  });

  it('keeps only what a hostile client cannot blow up', async () => {
    j.record(facts('S4', { helo: 'x'.repeat(100_000), sender: 'evil\r\n"}' }), deferred);
    await j.flush();
    const [e] = await j.bySession('S4');
    expect(e!.facts.helo!.length).toBeLessThan(600);
    expect(e!.facts.sender).toBe('evil\r\n"}');
  });
});

describe('failing open', () => {
  it('never waits past its timeout or throws when Redis is down, and counts it', async () => {
    const port = await freePort();
    const registry = createRegistry();
    const j = createJournal({ redis: { url: `redis://127.0.0.1:${port}` }, registry, logger, timeoutMs: 100 });
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) j.record(facts(`D${i}`), deferred);
    expect(Date.now() - t0).toBeLessThan(1000); // record() itself never blocks
    await j.flush();
    const text = await registry.metrics();
    expect(text).toMatch(/moat_journal_writes_total\{result="(unavailable|error|timeout)"\} 50/);
    expect(await j.ping()).toBe(false);
    await j.close();
  });

  it('drops beyond its backlog instead of queueing without bound', async () => {
    const port = await freePort();
    const registry = createRegistry();
    const j = createJournal({ redis: { url: `redis://127.0.0.1:${port}` }, registry, logger, timeoutMs: 200, maxPending: 5 });
    for (let i = 0; i < 20; i++) j.record(facts(`D${i}`), deferred);
    await j.flush();
    expect(await registry.metrics()).toContain('moat_journal_writes_total{result="dropped"} 15');
    await j.close();
  });

  it('bounds the appends a hung Redis has not answered, not just the ones it waits for', async () => {
    const registry = createRegistry();
    const j = createJournal({ redis: { url: redis.url }, registry, logger, timeoutMs: 100, maxPending: 5, prefix: 'hung:' });
    expect(await j.ping()).toBe(true);
    await raw.client('PAUSE', 1500, 'WRITE'); // connected, answering nothing that writes
    for (let i = 0; i < 5; i++) j.record(facts(`P${i}`), deferred);
    await j.flush(); // our wait ends after 100 ms: five timeouts, still unanswered
    for (let i = 5; i < 10; i++) j.record(facts(`P${i}`), deferred);
    await j.flush();
    const text = await registry.metrics();
    expect(text).toContain('moat_journal_writes_total{result="timeout"} 5');
    expect(text).toContain('moat_journal_writes_total{result="dropped"} 5');
    expect(text).toContain('moat_journal_pending 5');
    await raw.client('UNPAUSE');
    // Redis applies the five it was sent once it answers again.
    await expect.poll(async () => (await raw.xlen(streamKey('hung:'))), { timeout: 5000 }).toBe(5);
    await j.close();
  });

  it('recovers when Redis comes back', async () => {
    const r = await startRedis();
    const registry = createRegistry();
    const j = createJournal({ redis: { url: r.url }, registry, logger, timeoutMs: 200 });
    j.record(facts('R1'), deferred);
    await j.flush();
    await r.kill();
    j.record(facts('R2'), deferred);
    await j.flush();
    await r.restart();
    // Reconnects with a short backoff; the next writes succeed again.
    const deadline = Date.now() + 10_000;
    while (!(await j.ping()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    j.record(facts('R3'), deferred);
    await j.flush();
    expect((await j.bySession('R3')).length).toBe(1);
    expect(await registry.metrics()).toMatch(/moat_journal_writes_total\{result="ok"\} 2/);
    await j.close();
    await r.stop();
  });
});

describe('the runtime hook', () => {
  it('recordDecision hands each decision to the journal as its sink', async () => {
    const { createDecisionMetrics, recordDecision } = await import('@moat/runtime');
    const registry = createRegistry();
    const j = open({ prefix: 'j3:' });
    recordDecision(logger, createDecisionMetrics(registry), facts('H1'), deferred, { reply: '450 4.7.1 Greylisted', queueId: 'QH1', sink: j });
    // A sink that throws never breaks the decision.
    recordDecision(logger, createDecisionMetrics(registry), facts('H2'), deferred, {
      sink: {
        record() {
          throw new Error('boom');
        },
      },
    });
    await j.flush();
    const [e] = await j.byQueueId('QH1');
    expect(e).toMatchObject({ session: 'H1', queueId: 'QH1', reply: '450 4.7.1 Greylisted', verdict: { decidedBy: deferred.decidedBy } });
    expect(e!.ms).toBeCloseTo(3.01, 5);
    await j.close();
  });
});
