// The journal on a real Redis Cluster (3 masters): a hash-tagged prefix keeps one batch's keys on one slot; a
// prefix without one is refused at creation, naming the key, instead of failing every batch with CROSSSLOT.
import { createLogger, createRegistry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { type RedisCluster, startRedisCluster } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createJournal, JournalConfigError } from '../src/index.ts';

const logger = createLogger('test', { level: 'silent' });
const facts = (session: string): Facts => ({ stage: 'rcpt', clientAddress: '192.0.2.7', recipient: 'b@example.org', tls: false, sessionId: session });
const verdict: Verdict = { action: 'defer', status: '4.7.1', text: 'Greylisted', prepend: [], trace: [] };

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterAll(() => cluster?.stop());

it('refuses a prefix without a hash tag on a cluster, naming journal.prefix', () => {
  const open = (prefix: string) => () => createJournal({ redis: { cluster: cluster.nodes }, prefix, registry: createRegistry(), logger });
  expect(open('custom:')).toThrow(JournalConfigError);
  expect(open('custom:')).toThrow(/journal\.prefix .*"custom:" has no hash tag.*"custom:\{journal\}:"/);
  expect(open('moat:{}:')).toThrow(JournalConfigError);
});

it('writes and reads back a turn of appends and a link under a custom hash-tagged prefix', async () => {
  const registry = createRegistry();
  const j = createJournal({ redis: { cluster: cluster.nodes }, prefix: 'custom:{mx1}:', registry, logger, timeoutMs: 5000 });
  expect(await j.ping()).toBe(true);
  j.record(facts('C1'), verdict);
  j.record(facts('C2'), verdict);
  j.record(facts('C1'), verdict, { reply: '450 4.7.1 Greylisted' });
  j.linkQueueId('C1', 'QC1');
  await j.flush();
  expect((await j.byQueueId('QC1')).map((e) => e.session)).toEqual(['C1', 'C1']);
  expect((await j.recent({ count: 3 })).map((e) => e.session)).toEqual(['C1', 'C2', 'C1']);
  expect(await registry.metrics()).toContain('moat_journal_writes_total{result="ok"} 4');
  await j.close();
});
