// Losing the Redis master: the Sentinels promote the replica, every node fails open meanwhile (mail is
// accepted without greylisting, no session hangs), and greylisting resumes with the state it had.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmtpOutcome } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cluster,
  freshClientIp,
  freshSender,
  freshTag,
  killService,
  NODES,
  REDIS,
  redisRole,
  redisServiceAt,
  sendAt,
  sentinelMaster,
  startService,
  waitDelivered,
  waitHealthy,
  waitNodesFollowMaster,
  waitQueuesEmpty,
} from './cluster.ts';

beforeAll(() => waitHealthy());
afterAll(async () => {
  for (const r of REDIS) await startService(r).catch(() => undefined);
});

/** Polls until `f` is true (or throws after timeoutMs). */
async function until(what: string, f: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await f().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(250);
  }
}

describe('Redis master killed', () => {
  it('Sentinel fails over, nodes fail open meanwhile, greylisting continues with its state', async () => {
    const master = await sentinelMaster();
    const masterSvc = redisServiceAt(master);
    const replicaSvc = REDIS.find((r) => r !== masterSvc) ?? 'redis-b';
    await until('replica in sync', async () => (await redisRole(replicaSvc)) === 'slave', 30_000);

    // a triplet seen before the failover, written to the master and replicated
    const seededIp = freshClientIp();
    const seededFrom = freshSender();
    const seeded = await sendAt('mx2', { clientIp: seededIp, from: seededFrom, tag: freshTag('fo-seed') });
    expect(seeded.code).toBe(450);
    await sleep(500);

    await killService(masterSvc);
    const killedAt = Date.now();
    // probe all three nodes with new triplets while the Sentinels work
    const probes: Array<{ node: string; outcome: SmtpOutcome; tag: string; at: number }> = [];
    let failedOverAfter = -1;
    let i = 0;
    while (Date.now() - killedAt < 60_000) {
      const node = NODES[i++ % 3] ?? 'mx1';
      const tag = freshTag('fo-probe');
      const outcome = await sendAt(node, { clientIp: freshClientIp(), from: freshSender(), tag, timeoutMs: 15_000 });
      probes.push({ node, outcome, tag, at: Date.now() - killedAt });
      if (failedOverAfter < 0 && (await sentinelMaster().catch(() => master)) !== master) failedOverAfter = Date.now() - killedAt;
      // done once the new master is in place and a new triplet is greylisted again (the store answers)
      if (failedOverAfter >= 0 && outcome.stage === 'rcpt' && outcome.code === 450) break;
      await sleep(300);
    }
    console.log(
      `failover: Sentinel switched after ${failedOverAfter} ms; ${probes.length} probes: ` +
        probes.map((p) => `${p.at}ms ${p.node} ${p.outcome.stage}/${p.outcome.code} ${p.outcome.ms}ms`).join(', '),
    );
    expect(failedOverAfter, 'the Sentinels promoted the replica').toBeGreaterThan(0);
    expect(await sentinelMaster()).not.toBe(master);
    for (const p of probes) {
      // every session was answered: accepted without greylisting (fail open) or greylisted (store up)
      const ok = p.outcome.stage === 'done' || (p.outcome.stage === 'rcpt' && p.outcome.code === 450);
      expect(ok, `${p.node} at ${p.at} ms: ${p.outcome.stage} ${p.outcome.code} ${p.outcome.text}`).toBe(true);
      // nothing stuck: the greylist gives up after its timeout (1 s in the test profile)
      expect(p.outcome.ms, `${p.node} at ${p.at} ms took ${p.outcome.ms} ms`).toBeLessThan(10_000);
    }
    expect(probes.some((p) => p.outcome.stage === 'done'), 'some mail was accepted while the master was gone (fail open)').toBe(true);

    // greylisting resumed with its state: the triplet seen before the failover passes now
    await sleep(cluster().greylistDelayMs);
    const passed = freshTag('fo-seed-pass');
    const retry = await sendAt('mx3', { clientIp: seededIp, from: seededFrom, tag: passed });
    expect(retry.stage, retry.text).toBe('done');

    // and a new triplet is greylisted at one node and passes at another
    const ip = freshClientIp();
    const from = freshSender();
    expect((await sendAt('mx1', { clientIp: ip, from, tag: freshTag('fo-new') })).code).toBe(450);
    await sleep(cluster().greylistDelayMs + 500);
    const fresh = freshTag('fo-new-pass');
    expect((await sendAt('mx2', { clientIp: ip, from, tag: fresh })).stage).toBe('done');

    // what was accepted during the failover is delivered, once; nothing stays queued
    const accepted = [...probes.filter((p) => p.outcome.stage === 'done').map((p) => p.tag), passed, fresh];
    const counts = await waitDelivered(accepted);
    for (const t of accepted) expect(counts.get(t), t).toBe(1);
    await waitQueuesEmpty();

    // the old master comes back as a replica of the new one
    await startService(masterSvc);
    const rejoined = await until('old master rejoins as replica', async () => (await redisRole(masterSvc)) === 'slave', 60_000);
    console.log(`failover: ${masterSvc} rejoined as a replica ${rejoined} ms after its restart`);
    await waitHealthy();
    // every node (not only the one a probe happened to reach) writes through the new master
    const followed = await waitNodesFollowMaster();
    console.log(`failover: every node's greylist, journal and rate limiter wrote through the new master (${followed} ms)`);
  });
});
