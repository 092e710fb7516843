// Backup MX for a remote site (Postfix ADDRESS_CLASS_README): relay.moat.test is in relay_domains with its
// users in relay_recipient_maps (compose/cluster/config-test/moat.yaml), so a backup refuses an unknown user at
// RCPT as Postfix does, and queues a known one for the next hop transport_maps names, not the mailstore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteQueued,
  execIn,
  freshClientIp,
  freshSender,
  freshTag,
  mailstoreTags,
  NODES,
  type QueueEnvelope,
  queuedEnvelopes,
  sendAt,
  waitHealthy,
  WL2_CLIENT,
} from './cluster.ts';

const RELAY_DOMAIN = 'relay.moat.test';
/** The domain's own server in transport_maps (an address nothing holds in the test profile). */
const NEXT_HOP = 'smtp:[172.29.28.40]:25';
const BACKUPS = ['mx2', 'mx3'] as const;

/** Queue ids this file left on each node: removed afterwards, so later files find the queues empty. */
const left = new Map<(typeof NODES)[number], string[]>();

beforeAll(() => waitHealthy());
afterAll(async () => {
  for (const [node, ids] of left) await deleteQueued(node, ids);
});

/** Waits for the message from `sender` to be in a node's queue and tried at least once. */
async function queuedAfterAttempt(node: (typeof NODES)[number], sender: string, timeoutMs = 90_000): Promise<QueueEnvelope> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const env = (await queuedEnvelopes(node)).find((e) => e.sender === sender);
    if (env && env.attempts >= 1) return env;
    if (Date.now() > deadline) throw new Error(`${node}: no tried queue file from ${sender} after ${timeoutMs} ms (${env ? 'queued, not tried' : 'not queued'})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('backup MX for a relay domain (relay_domains, relay_recipient_maps, transport_maps)', () => {
  it("every node refuses an unknown user of the relay domain with Postfix's reply", async () => {
    for (const node of NODES) {
      const to = `nobody@${RELAY_DOMAIN}`;
      const r = await sendAt(node, { clientIp: freshClientIp(), from: freshSender(), to, tag: freshTag('relay-unknown') });
      expect(r.stage, `${node}: ${r.text}`).toBe('rcpt');
      expect(r.code, `${node}: ${r.text}`).toBe(550);
      // smtpd_check.c check_rcpt_maps: "%s: Recipient address rejected: User unknown in relay recipient table"
      expect(r.text, node).toBe(`5.1.1 <${to}>: Recipient address rejected: User unknown in relay recipient table`);
    }
  });

  it("a backup accepts a listed user and queues it for the domain's own server, not the mailstore", async () => {
    const tags: string[] = [];
    for (const node of BACKUPS) {
      const from = freshSender();
      const tag = freshTag(`relay-${node}`);
      // a DNSWL client: past the greylist, so the relay recipient table is what decides
      const r = await sendAt(node, { clientIp: WL2_CLIENT, from, to: `carol@${RELAY_DOMAIN}`, tag });
      expect(r.stage, `${node}: ${r.text}`).toBe('done');
      expect(r.code).toBe(250);
      tags.push(tag);

      const env = await queuedAfterAttempt(node, from);
      left.set(node, [...(left.get(node) ?? []), env.id]);
      expect(env.recipients).toHaveLength(1);
      const [rcpt] = env.recipients;
      expect(rcpt).toMatchObject({ address: `carol@${RELAY_DOMAIN}`, state: 'pending', class: 'relay' });
      // transport_maps' entry, as written: no MX lookup, straight to the domain's server
      expect(rcpt?.nextHop).toMatchObject({ transport: 'smtp', host: '172.29.28.40', port: 25, mx: false, raw: NEXT_HOP });
      // it was tried there (and that server is away), so it waits in the backup's queue
      expect(rcpt?.lastError ?? '', `${node}: ${JSON.stringify(rcpt)}`).toMatch(/172\.29\.28\.40/);
    }
    // neither the primary's mailstore nor a backup's own maildir has it
    const store = await mailstoreTags();
    for (const t of tags) expect(store.has(t), t).toBe(false);
    for (const node of BACKUPS) {
      const local = await execIn(node, 'sh', '-c', `grep -rl 'X-Moat-Tag: relay-' /var/lib/moat/maildir 2>/dev/null | wc -l`);
      expect(Number(local.trim()), node).toBe(0);
    }
  });
});
