// One greylist for three nodes: a triplet first seen at one backup passes at another after the delay,
// the backups refuse unknown recipients as the primary does, and relayed mail is trusted at the primary.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cluster,
  freshClientIp,
  freshSender,
  freshTag,
  logsUntil,
  mailstoreMessage,
  mailstoreTags,
  sendAt,
  waitDelivered,
  waitHealthy,
} from './cluster.ts';

beforeAll(() => waitHealthy());

describe('shared greylist', () => {
  it('greylists a triplet at mx2, still too early at mx1, passes at mx3 after the delay', async () => {
    const clientIp = freshClientIp();
    const from = freshSender();
    const since = new Date();
    const first = await sendAt('mx2', { clientIp, from, tag: freshTag('grey-early') });
    expect(first.stage, first.text).toBe('rcpt');
    expect(first.code).toBe(450);
    expect(first.text).toMatch(/greylist/i);

    // the same triplet at another node before the delay: the store knows it, so still too early
    await sleep(1000);
    const early = await sendAt('mx1', { clientIp, from, tag: freshTag('grey-early') });
    expect(early.stage).toBe('rcpt');
    expect(early.code).toBe(450);

    await sleep(cluster().greylistDelayMs);
    const tag = freshTag('grey-pass');
    const retry = await sendAt('mx3', { clientIp, from, tag });
    expect(retry.stage, retry.text).toBe('done');
    expect(retry.code).toBe(250);

    // mx3 relays to mx1; the mailstore holds one copy, received by mx1 from mx3
    const counts = await waitDelivered([tag]);
    expect(counts.get(tag)).toBe(1);
    const relayed = (l: string) => l.includes('"event":"decision"') && l.includes(from) && l.includes(`"client":"${cluster().net}.13"`);
    const isStored = (l: string) => l.includes('"msg":"message"') && l.includes(from) && l.includes(`"client":"${cluster().net}.13"`) && l.includes('"outcome":"accepted"');
    const mx1 = await logsUntil('mx1', since, (ls) => ls.some(relayed) && ls.some(isStored));
    const decisions = mx1.filter(relayed);
    // the primary trusts the backup (permit_mynetworks): the relayed copy is not greylisted again
    expect(decisions.length).toBeGreaterThan(0);
    for (const l of decisions) expect(JSON.parse(l).restriction).toBe('permit_mynetworks');
    // the copy went through both: received by mx3 from the client, then by mx1 from mx3, scanned by spamd
    const text = (await mailstoreMessage(tag)).replace(/\r?\n[ \t]+/g, ' ');
    const received = text.split(/\r?\n/).filter((l) => l.startsWith('Received:'));
    expect(received[0]).toMatch(/from mx3\.example\.org .*by mx1\.example\.org/);
    expect(received[1]).toMatch(/by mx3\.example\.org/);
    expect(text).toMatch(/^X-Spam-Score: /m);
    // scanned once, at mx3: the primary keeps the backup's verdict and Authentication-Results (the cluster's
    // one authserv-id) instead of adding its own, which would judge mx3's address instead of the client's
    expect(text.match(/^X-Spam-Status: /gm)).toHaveLength(1);
    expect(text.match(/^Authentication-Results: /gm)).toHaveLength(1);
    expect(text).toMatch(/^Authentication-Results: moat\.test;/m);
    const stored = mx1.find(isStored);
    expect(stored, 'mx1 logged the relayed message').toBeDefined();
    expect(JSON.parse(stored!).spam).toEqual({ relayed: 'scanned by the trusted relay' });
    // nothing of the refused attempts reached the mailstore
    expect([...(await mailstoreTags()).keys()].some((t) => t.startsWith('grey-early'))).toBe(false);
  });

  it('backups refuse unknown recipients, as the primary does', async () => {
    for (const node of ['mx1', 'mx2', 'mx3'] as const) {
      const r = await sendAt(node, { clientIp: freshClientIp(), from: freshSender(), to: `nobody@${cluster().domain}`, tag: freshTag('unknown') });
      expect(r.stage, `${node}: ${r.text}`).toBe('rcpt');
      expect(r.code, `${node}: ${r.text}`).toBe(550);
    }
  });
});
