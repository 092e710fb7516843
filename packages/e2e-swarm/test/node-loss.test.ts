// Node loss under load: while a bounded stream of messages goes to the three MX, the engine of the node
// holding the Redis master is stopped (as its host going down stops it). Sentinel promotes the replica on
// another node, the surviving MX keep accepting and greylisting, the node comes back, its mail and the
// mail the backups queued for it is delivered, and every acknowledged message is in the mailstore.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEngine, stopEngine } from '../../../scripts/swarm.mjs';
import { passedSender, refusedAt, runLoad } from './load.ts';
import { freshSender, freshTag, homeOf, logsSince, MX, type MxName, mailstoreTags, node, sendAt, sentinelMaster, swarm, waitConverged, waitDelivered } from './swarm.ts';

const MESSAGES = 60;
const INTERVAL_MS = 500;

let stopped: MxName | undefined;

describe.skipIf(swarm().lacks)('losing the node that holds the Redis master, under load', () => {
  beforeAll(() => waitConverged());
  afterAll(async () => {
    // leave the swarm whole for the next file, whatever happened
    if (stopped) await startEngine(node(stopped)).catch(() => undefined);
    await waitConverged().catch(() => undefined);
  });
  it('fails Redis over, keeps the other MX accepting and greylisting, and loses no acknowledged message', async () => {
    const master = await sentinelMaster();
    const victim = homeOf(master);
    const survivors = MX.filter((n) => n !== victim);
    const from = await passedSender();

    const load = runLoad({ count: MESSAGES, intervalMs: INTERVAL_MS, from, label: 'loss' });
    await sleep(8000);
    const t0 = Date.now();
    stopped = victim;
    const stopping = stopEngine(node(victim));
    // failover: until a surviving Sentinel names another master
    let newMaster = master;
    while (newMaster === master && Date.now() - t0 < 120_000) {
      await sleep(250);
      newMaster = await sentinelMaster([victim]).catch(() => master);
    }
    const failoverS = (Date.now() - t0) / 1000;
    expect(newMaster).not.toBe(master);
    await stopping;
    const engineDownS = (Date.now() - t0) / 1000;

    // greylisting still works on the survivors: a fresh triplet is deferred, then passes after the delay
    const gFrom = freshSender();
    const gTag = freshTag('loss-grey');
    const g1 = await sendAt(survivors[0] ?? 'mx2', { from: gFrom, tag: `${gTag}.a0` });
    await sleep(swarm().greylistDelayMs + 1500);
    const g2 = await sendAt(survivors[1] ?? 'mx3', { from: gFrom, tag: `${gTag}.a1` });

    // the Sentinels' own account: objectively down, then the switch (a split vote shows as a gap here);
    // both survivors' logs, since one may have been restarted by its health check meanwhile
    const survivorSentinels = survivors.map((n) => `sentinel-${n.slice(2)}`);
    const sentinelLog = (await Promise.all(survivorSentinels.map((s) => logsSince(s, new Date(t0 - 5000)).catch(() => [])))).flat().join('\n');
    const at = (what: string) => {
      const times = [...sentinelLog.matchAll(new RegExp(`(\\d\\d \\w{3} \\d{4} [\\d:.]+) # \\+${what} `, 'g'))].map((m) => Date.parse(`${m[1]} GMT`));
      return times.length ? Math.min(...times) : Number.NaN;
    };
    const odownToSwitchS = (at('switch-master') - at('odown')) / 1000;
    const splitVotes = (sentinelLog.match(/-failover-abort-not-elected/g) ?? []).length;
    const result = await load;
    const tDown = Date.now();
    // the node comes back: its engine restarts, rejoins the swarm, its tasks start again
    await startEngine(node(victim));
    stopped = undefined;
    const convergeS = await waitConverged();
    const delivered = await waitDelivered([...result.acked, `${gTag}.a1`], 300_000);
    const lost = result.acked.filter((t) => !delivered.has(t));
    const duplicates = [...delivered.entries()].filter(([t, c]) => t.startsWith('loss') && c > 1).length;
    // attempts the sender gave up on (no reply in time) that were queued all the same: the sender's retry
    // elsewhere makes them a second copy of the message, as with any MTA
    const unacked = [...delivered.keys()].filter((t) => t.startsWith('loss') && !result.acked.includes(t)).length;
    const refusedBySurvivors = survivors.flatMap((n) => refusedAt(result, n, t0, tDown));
    console.log(
      `node-loss: stopped ${victim} (Redis master ${master}); Sentinel named ${newMaster} after ${failoverS.toFixed(1)} s ` +
        `(+odown to +switch-master ${odownToSwitchS.toFixed(1)} s, ${splitVotes} split votes); ` +
        `engine down after ${engineDownS.toFixed(1)} s; back and converged ${convergeS.toFixed(1)} s after restart; ` +
        `${result.acked.length}/${MESSAGES} acknowledged, ${lost.length} lost, ${duplicates} duplicated, ${unacked} delivered unacknowledged, ${result.failed} never accepted; ` +
        `${refusedAt(result, victim, t0, tDown).length} attempts at ${victim} refused while it was down, ${refusedBySurvivors.length} at the survivors; ` +
        `greylist on the survivors: first ${g1.code}, after the delay ${g2.code}`,
    );
    expect(g1).toMatchObject({ stage: 'rcpt', code: 450 });
    expect(g2, JSON.stringify(g2)).toMatchObject({ stage: 'done', code: 250 });
    expect(result.failed).toBe(0);
    expect(result.acked.length).toBe(MESSAGES);
    expect(lost).toEqual([]);
    // the survivors refused nothing that a retry elsewhere would have needed, apart from the failover's
    // fail-open window, where the greylist is skipped rather than refusing
    expect(refusedBySurvivors.map((a) => `${a.node} ${a.outcome.stage} ${a.outcome.code} ${a.outcome.text}`)).toEqual([]);
    // the whole mailstore still has each acknowledged message
    const counts = await mailstoreTags();
    for (const t of result.acked) expect(counts.get(t) ?? 0, t).toBeGreaterThanOrEqual(1);
  });
});
