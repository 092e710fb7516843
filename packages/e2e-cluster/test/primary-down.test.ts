// The primary away: the backups accept and queue, and once mx1 is back every message reaches the
// mailstore exactly once; one backup away: the other nodes keep serving.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cluster,
  freshClientIp,
  freshSender,
  freshTag,
  logsSince,
  queued,
  sendAt,
  startService,
  stopService,
  waitDelivered,
  waitHealthy,
  waitQueuesEmpty,
  WL2_CLIENT,
} from './cluster.ts';

beforeAll(() => waitHealthy());
// whatever happened, leave every node running for the next file
afterAll(async () => {
  for (const n of ['mx1', 'mx2', 'mx3']) await startService(n).catch(() => undefined);
});

describe('primary away', () => {
  it('backups run with a 7-day queue lifetime (the seed\'s maximal_queue_lifetime)', async () => {
    for (const node of ['mx2', 'mx3']) {
      const started = (await logsSince(node, new Date(0))).filter((l) => l.includes('"msg":"delivery started"')).pop();
      expect(started, `${node} logged its delivery settings`).toBeTruthy();
      expect(JSON.parse(started ?? '{}')).toMatchObject({ maxLifetime: 7 * 86_400_000 });
    }
  });


  it('backups accept and queue while mx1 is down; after it returns each message is delivered once', async () => {
    const t0 = Date.now();
    const phase: string[] = [];
    const mark = (what: string) => phase.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await stopService('mx1');
    mark('mx1 stopped');
    const refused = await sendAt('mx1', { clientIp: WL2_CLIENT, from: freshSender(), tag: freshTag('down') });
    expect(refused.stage).toBe('connect');

    const tags: string[] = [];
    for (let i = 0; i < 10; i++) {
      const tag = freshTag(`down${i}`);
      const r = await sendAt(i % 2 ? 'mx3' : 'mx2', { clientIp: WL2_CLIENT, from: freshSender(), tag });
      expect(r.stage, r.text).toBe('done');
      tags.push(tag);
    }
    mark('10 accepted by backups');
    // a few retry rounds go by (test profile: 2 s, backing off to 5 s): the mail stays queued
    await sleep(8000);
    expect((await queued('mx2')) + (await queued('mx3'))).toBe(10);

    await startService('mx1');
    mark('mx1 healthy');
    const counts = await waitDelivered(tags, 90_000);
    mark('all in the mailstore');
    for (const t of tags) expect(counts.get(t), t).toBe(1);
    await waitQueuesEmpty();
    mark('queues empty');
    console.log(`primary away: ${phase.join(', ')}`);
    // and still once after the queues are empty (no late duplicate)
    const after = await waitDelivered(tags);
    for (const t of tags) expect(after.get(t), t).toBe(1);
  });
});

describe('one backup away', () => {
  it('mx1 and mx2 keep serving (greylisting included) while mx3 is down', async () => {
    await stopService('mx3');
    const clientIp = freshClientIp();
    const from = freshSender();
    const first = await sendAt('mx2', { clientIp, from, tag: freshTag('b-early') });
    expect(first.code).toBe(450);
    await sleep(cluster().greylistDelayMs + 500);
    const viaBackup = freshTag('b-mx2');
    const r2 = await sendAt('mx2', { clientIp, from, tag: viaBackup });
    expect(r2.stage, r2.text).toBe('done');
    const direct = freshTag('b-mx1');
    const r1 = await sendAt('mx1', { clientIp, from, tag: direct });
    expect(r1.stage, r1.text).toBe('done');
    const counts = await waitDelivered([viaBackup, direct]);
    expect(counts.get(viaBackup)).toBe(1);
    expect(counts.get(direct)).toBe(1);

    await startService('mx3');
    const back = freshTag('b-mx3');
    const r3 = await sendAt('mx3', { clientIp, from, tag: back });
    expect(r3.stage, r3.text).toBe('done');
    expect((await waitDelivered([back])).get(back)).toBe(1);
  });
});
