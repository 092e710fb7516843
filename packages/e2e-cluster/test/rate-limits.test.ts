// Rate limits shared by every MX (@moat/ratelimit in the cluster's Redis): a login's message limit is one
// budget whichever nodes its mail goes through, and failed AUTHs from one client add up across the nodes.
// Limits in compose/cluster/config-test/moat.yaml: 30 messages per login (mx.rate_limits), 5 failed AUTHs (mx.auth).
import type { SmtpClient } from '@moat/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticate,
  cluster,
  freshClientIp,
  freshTag,
  message,
  NODES,
  redisCli,
  redisServiceAt,
  sentinelMaster,
  tlsSession,
  waitDelivered,
  waitHealthy,
} from './cluster.ts';

const MESSAGE_LIMIT = 30;
const MAX_AUTH_FAILURES = 5;

let open: SmtpClient[] = [];
const track = (c: SmtpClient) => {
  open.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(open.map((c) => c.quit()));
  open = [];
});

beforeAll(() => waitHealthy());

/**
 * A session logged in as the cluster's user. A 451 (the password check slower than the node's decision
 * timeout on a loaded machine) is tried again in a new session, as a mail client would.
 */
async function loggedIn(node: (typeof NODES)[number], clientIp?: string): Promise<SmtpClient> {
  for (let attempt = 1; ; attempt++) {
    const c = track(await tlsSession(node, clientIp));
    const r = await authenticate(c);
    if (r.code === 235) return c;
    if (r.code !== 451 || attempt === 3) throw new Error(`${node}: AUTH ${r.code} ${r.text}\n${c.transcript.join('\n')}`);
    await c.quit();
  }
}

/** The Redis master now (the Sentinels' answer): where the limiter's counters are. */
async function master(): Promise<string> {
  return redisServiceAt(await sentinelMaster());
}

describe('rate limits shared by every MX', () => {
  it(`a login limited to ${MESSAGE_LIMIT} messages sends ${MESSAGE_LIMIT} over the three nodes; the next gets 450 4.7.1 at every node`, async () => {
    const { user, domain } = cluster();
    // the login's counter (packages/ratelimit keys.ts): a kept cluster may hold one from an earlier run
    const key = `moat:{rl}:um:${user}`;
    await redisCli(await master(), 'del', key);

    const from = `${user}@${domain}`;
    const to = `alice@${domain}`;
    const sessions = await Promise.all(NODES.map(async (node) => ({ node, c: await loggedIn(node) })));

    // ten messages per node, the three nodes at once: the shared counter sees them interleaved
    const perNode = MESSAGE_LIMIT / NODES.length;
    const tags = await Promise.all(
      sessions.map(async ({ node, c }) => {
        const sent: string[] = [];
        for (let i = 0; i < perNode; i++) {
          const tag = freshTag(`limit-${node}-${i}`);
          expect((await c.cmd(`MAIL FROM:<${from}>`)).code, `${node} #${i}: ${c.transcript.join('\n')}`).toBe(250);
          expect((await c.cmd(`RCPT TO:<${to}>`)).code, `${node} #${i}`).toBe(250);
          const done = await c.data(message({ from, to, tag }));
          expect(done.code, `${node} #${i}: ${done.text}`).toBe(250);
          sent.push(tag);
        }
        return sent;
      }),
    );

    // the 31st message, at each node in turn: Postfix's words for a message rate limit, naming the login
    for (const { node, c } of sessions) {
      const r = await c.cmd(`MAIL FROM:<${from}>`);
      expect(r.code, `${node}: ${c.transcript.join('\n')}`).toBe(450);
      expect(r.text, node).toBe(`4.7.1 Error: too much mail from ${user}`);
    }
    // a new session from another client address is the same login, so the same budget
    const elsewhere = await loggedIn('mx2', freshClientIp());
    expect((await elsewhere.cmd(`MAIL FROM:<${from}>`)).code, elsewhere.transcript.join('\n')).toBe(450);

    // one counter for the cluster: 30 accepted and 4 refused MAIL commands (refused ones count, as in anvil)
    expect(Number((await redisCli(await master(), 'hget', key, 'n')).trim())).toBe(MESSAGE_LIMIT + NODES.length + 1);
    // the accepted messages reach the mailstore (through mx1, from the backups), each once
    const counts = await waitDelivered(tags.flat(), 180_000);
    for (const t of tags.flat()) expect(counts.get(t), t).toBe(1);
  });

  it(`${MAX_AUTH_FAILURES} failed AUTHs from one client spread over the three nodes stop its next AUTH at every node`, async () => {
    const { user, password } = cluster();
    const attacker = freshClientIp();
    // 2 at mx1, 2 at mx2, 1 at mx3: no node saw the per-node limit's five, only the cluster did
    const spread = ['mx1', 'mx1', 'mx2', 'mx2', 'mx3'] as const;
    expect(spread).toHaveLength(MAX_AUTH_FAILURES);
    for (const node of spread) {
      const c = track(await tlsSession(node, attacker));
      const r = await authenticate(c, user, 'not-the-password');
      expect(r.code, `${node}: ${c.transcript.join('\n')}`).toBe(535);
    }
    // the next AUTH, even with the right password, is refused at every node (RFC 4954's 454)
    for (const node of NODES) {
      const c = track(await tlsSession(node, attacker));
      const r = await authenticate(c, user, password);
      expect(r.code, `${node}: ${c.transcript.join('\n')}`).toBe(454);
      expect(r.text, node).toBe('4.7.0 Too many failed authentication attempts, try again later');
    }
    // it is the client that is stopped, not the login: the user logs in from elsewhere
    await loggedIn('mx3', freshClientIp());
  });
});
