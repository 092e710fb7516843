// The rolling-upgrade procedure of docs/rollout.md under load: while a bounded stream of messages flows
// (100 at about three a second, each sent like an MTA does: the next MX on a failure, retried later),
// every node is upgraded in turn, backups first (its container replaced by one from another image tag,
// queue volume kept, wait healthy). Afterwards every message that got a 250 is in the mailstore exactly
// once, and none is lost.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmtpOutcome } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docker,
  freshSender,
  freshTag,
  imageOf,
  mailstoreTags,
  type MxNode,
  NODES,
  sendAt,
  startService,
  upgradeNode,
  waitHealthy,
  waitQueuesEmpty,
  WL2_CLIENT,
} from './cluster.ts';

const MESSAGES = 100;
const INTERVAL_MS = 300;

/** The "new version": the same image under another tag, so compose replaces the container. */
const NEXT = 'rolling-upgrade-test';

beforeAll(() => waitHealthy());
afterAll(async () => {
  for (const n of NODES) await startService(n).catch(() => undefined);
  // only the extra tag goes; the image stays (moat/mx:dev names it too)
  await docker('rmi', `moat/mx:${NEXT}`).catch(() => undefined);
});

interface Attempt {
  tag: string;
  node: MxNode;
  outcome: SmtpOutcome;
}

/** One message, delivered as a sending MTA would: try the nodes in turn, then wait and go round again. */
async function deliver(i: number, attempts: Attempt[]): Promise<boolean> {
  const from = freshSender();
  const base = freshTag(`roll${i}`);
  let n = 0;
  for (let round = 0; round < 10; round++) {
    for (let k = 0; k < NODES.length; k++) {
      const node = NODES[(i + k) % NODES.length] ?? 'mx1';
      const tag = `${base}.a${n++}`;
      const outcome = await sendAt(node, { clientIp: WL2_CLIENT, from, tag, timeoutMs: 15_000 });
      attempts.push({ tag, node, outcome });
      if (outcome.stage === 'done') return true;
      if (outcome.code >= 500) return false;
    }
    await sleep(2000);
  }
  return false;
}

describe('rolling upgrade under load', () => {
  it('upgrades mx3, mx2, mx1 one at a time while 100 messages flow; none lost, none doubled', async () => {
    const attempts: Attempt[] = [];
    const t0 = Date.now();
    const load = (async () => {
      const sends: Array<Promise<boolean>> = [];
      for (let i = 0; i < MESSAGES; i++) {
        sends.push(deliver(i, attempts));
        await sleep(INTERVAL_MS);
      }
      return Promise.all(sends);
    })();

    const restarts: string[] = [];
    await sleep(2000);
    // backups first, the primary last (docs/rollout.md)
    for (const node of ['mx3', 'mx2', 'mx1'] as const) {
      const s = Date.now();
      await upgradeNode(node, NEXT);
      restarts.push(`${node}: replaced and healthy in ${((Date.now() - s) / 1000).toFixed(1)} s`);
      expect(await imageOf(node)).toBe(`moat/mx:${NEXT}`);
      // spread the three upgrades over the ~30 s of load
      await sleep(5000);
    }
    const results = await load;
    const loadDone = Date.now();
    await waitQueuesEmpty(NODES, 120_000);
    const counts = await mailstoreTags();

    const failovers = attempts.filter((a) => a.outcome.stage !== 'done');
    console.log(
      `rolling upgrade: ${MESSAGES} messages in ${((loadDone - t0) / 1000).toFixed(1)} s, ${attempts.length} attempts ` +
        `(${failovers.length} failed over: ${failovers.map((a) => `${a.node} ${a.outcome.stage}/${a.outcome.code}`).join(', ') || 'none'}); ` +
        `upgrades: ${restarts.join('; ')}; queues empty ${((Date.now() - loadDone) / 1000).toFixed(1)} s after the load`,
    );
    expect(results.every(Boolean), 'every message was eventually accepted by some node').toBe(true);
    for (const a of attempts) {
      const copies = counts.get(a.tag) ?? 0;
      if (a.outcome.stage === 'done') expect(copies, `${a.tag} got 250 at ${a.node}`).toBe(1);
      // a connection lost after the final dot may or may not have been queued; never twice
      else if (a.outcome.afterDot) expect(copies, `${a.tag} (lost after DATA at ${a.node})`).toBeLessThanOrEqual(1);
      else expect(copies, `${a.tag} (refused at ${a.node}: ${a.outcome.stage} ${a.outcome.code})`).toBe(0);
    }
    // no copy the test did not send
    const ours = new Set(attempts.map((a) => a.tag));
    expect([...counts.keys()].filter((t) => t.startsWith('roll') && !ours.has(t))).toEqual([]);
  });
});
