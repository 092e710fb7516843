// Learning shared by every MX: `moat learn` at mx2 teaches the cluster's Bayes (spamd's Redis store on the
// master the Sentinels name), mx1 then scores a near copy with a high BAYES_* rule and a clearly higher
// score; after a Redis failover learning still works and what was learned before is still there.
import { setTimeout as sleep } from 'node:timers/promises';
import { smtpTransaction, taggedMessage } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cluster,
  execIn,
  freshSender,
  freshTag,
  killService,
  logsSince,
  mailstoreMessage,
  type MxNode,
  portOf,
  REDIS,
  redisCli,
  redisRole,
  redisServiceAt,
  sentinelMaster,
  startService,
  waitDelivered,
  waitHealthy,
  waitNodesFollowMaster,
  WL2_CLIENT,
} from './cluster.ts';

beforeAll(() => waitHealthy());
afterAll(async () => {
  for (const r of REDIS) await startService(r).catch(() => undefined);
});

const SPAM_WORDS = 'zorblax quintuple vexorine miracle pills glimmerfox discount pharmacy unclaimed lottery prize wirebank transfer sapphirex guaranteed megaprofit doubler'.split(' ');
const HAM_WORDS = 'quarterly budget review agenda meeting minutes attached project milestone retrospective roadmap draft comments deadline backlog grooming sprint'.split(' ');

/** A message of the corpus: the words rotated by `n`, so copies are near, never identical. */
function corpusMessage(kind: 'spam' | 'ham', n: number, tag: string, from = 'news@sender.example'): string {
  const words = kind === 'spam' ? SPAM_WORDS : HAM_WORDS;
  const line = (i: number) => [...words.slice((i + n) % words.length), ...words.slice(0, (i + n) % words.length)].join(' ');
  const subject = `${kind === 'spam' ? 'exclusive megaprofit offer' : 'notes from the project meeting'} ${n}`;
  return taggedMessage({ from, to: `alice@${cluster().domain}`, tag, subject, idDomain: 'e2e-cluster.moat.test', body: Array.from({ length: 6 }, (_, i) => line(i)) });
}

/** `moat learn AS -` inside a node's container, the message on stdin (as `npm run moat -- learn` does). */
async function learnAt(node: MxNode, as: 'spam' | 'ham', msg: string, waitForStore = true): Promise<string> {
  const b64 = Buffer.from(msg).toString('base64');
  const learn = () => execIn(node, 'sh', '-c', `echo '${b64}' | base64 -d | node /usr/local/lib/moat/cli/main.js learn ${as} - --config /etc/moat/conf/moat.yaml`);
  // every message here is new to Bayes, so "nothing changed" means spamd's store is not reachable yet (a suite
  // before this one restarts Redis, the Sentinels and spamd with a rotated password): asked again, up to 60 s
  let out = await learn();
  for (const until = Date.now() + (waitForStore ? 60_000 : 0); /nothing changed/.test(out) && Date.now() < until; out = await learn()) await new Promise((r) => setTimeout(r, 2000));
  return out;
}

/** spamd's SYMBOLS for a message, asked from a node's container (the node's network position, its MOAT_SPAMD_HOST). */
async function symbolsFrom(node: MxNode, msg: string): Promise<string[]> {
  const script = `
    const net = require('node:net');
    const m = Buffer.from(process.argv[1], 'base64');
    const s = net.connect(783, process.env.MOAT_SPAMD_HOST, () => s.end(Buffer.concat([Buffer.from('SYMBOLS SPAMC/1.5\\r\\nContent-length: ' + m.length + '\\r\\n\\r\\n'), m])));
    const out = [];
    s.on('data', (b) => out.push(b));
    s.on('close', () => process.stdout.write(Buffer.concat(out).toString().split('\\r\\n\\r\\n')[1] ?? ''));`;
  const out = await execIn(node, 'node', '-e', script, Buffer.from(msg).toString('base64'));
  return out.split(',').map((s) => s.trim()).filter(Boolean);
}

const bayesRule = (symbols: readonly string[]) => symbols.filter((s) => s.startsWith('BAYES_')).sort().at(-1);

/** Delivers a message through a node (a whitelisted client: no greylisting) and returns mx's X-Spam-Score. */
async function scoreThrough(node: MxNode, msg: string, tag: string): Promise<number> {
  const from = freshSender();
  const r = await smtpTransaction({
    port: portOf(node),
    xclient: `ADDR=${WL2_CLIENT} NAME=[UNAVAILABLE]`,
    xclientHelo: 'e2e-cluster.moat.test',
    helo: 'mail.sender.example',
    from,
    to: `alice@${cluster().domain}`,
    message: msg,
  });
  expect(r.code, JSON.stringify(r)).toBe(250);
  await waitDelivered([tag]);
  const stored = await mailstoreMessage(tag);
  const score = /^X-Spam-Score: (-?[\d.]+)/m.exec(stored)?.[1];
  if (score === undefined) throw new Error(`no X-Spam-Score on ${tag}:\n${stored.slice(0, 600)}`);
  return Number(score);
}

async function bayesCount(key: 'v:NSPAM' | 'v:NHAM'): Promise<number> {
  const master = redisServiceAt(await sentinelMaster());
  return Number((await redisCli(master, '-n', '2', 'GET', key)).trim() || '0');
}

describe('Bayes shared by every MX', () => {
  it('learned at mx2, scored at mx1; learning goes on after a Redis failover', async () => {
    // before: the near copy as mx1 scores it now (Bayes has not learned this corpus)
    const beforeTag = freshTag('bayes-before');
    const before = await scoreThrough('mx1', corpusMessage('spam', 11, beforeTag), beforeTag);
    const spamBefore = await bayesCount('v:NSPAM');

    for (let i = 1; i <= 4; i++) {
      expect(await learnAt('mx2', 'spam', corpusMessage('spam', i, freshTag('bayes-spam')))).toMatch(/^stdin: learned as spam\n$/);
      expect(await learnAt('mx2', 'ham', corpusMessage('ham', i, freshTag('bayes-ham')))).toMatch(/^stdin: learned as ham\n$/);
    }
    // (>=: spamd also auto-learns what it scans, bayes_auto_learn)
    expect(await bayesCount('v:NSPAM')).toBeGreaterThanOrEqual(spamBefore + 4);

    // mx1 scores a near copy: a high Bayes rule, and a clearly higher score than before
    const afterTag = freshTag('bayes-after');
    const near = corpusMessage('spam', 12, afterTag);
    const rule = bayesRule(await symbolsFrom('mx1', near));
    expect(rule).toMatch(/^BAYES_(99|999|95|80)$/);
    const after = await scoreThrough('mx1', near, afterTag);
    expect(after - before).toBeGreaterThanOrEqual(2);

    // the master goes away: the Sentinels promote the replica, spamd's forwarder follows
    const master = await sentinelMaster();
    const masterSvc = redisServiceAt(master);
    const replicaSvc = REDIS.find((r) => r !== masterSvc) ?? 'redis-b';
    expect(Number((await redisCli(masterSvc, 'WAIT', '1', '5000')).trim())).toBe(1);
    const since = new Date();
    await killService(masterSvc);
    const t0 = Date.now();
    while ((await sentinelMaster().catch(() => master)) === master) {
      if (Date.now() - t0 > 90_000) throw new Error('the Sentinels did not fail over within 90 s');
      await sleep(500);
    }
    expect(await redisRole(replicaSvc)).toBe('master');

    // learning works again (bounded: the forwarder sees the new master within its 1 s poll)
    const switched = Date.now();
    let out = '';
    let tries = 0;
    for (let i = 0; i < 30; i++) {
      tries++;
      // a fresh message each try: during the switch spamd may find no store and change nothing
      out = await learnAt('mx3', 'spam', corpusMessage('spam', 5, freshTag('bayes-after-failover')), false).catch((e: Error) => e.message);
      if (out === 'stdin: learned as spam\n') break;
      await sleep(1000);
    }
    expect(out).toBe('stdin: learned as spam\n');
    console.log(
      `bayes: mx1 scored the near copy ${before} before and ${after} after learning 4 spam + 4 ham at mx2 (${rule}); ` +
        `after the failover (${masterSvc} -> ${replicaSvc}) learning worked again ${Date.now() - switched} ms after the Sentinels switched (${tries} tries)`,
    );
    // what was learned before the failover is on the new master, plus the new message
    expect(Number((await redisCli(replicaSvc, '-n', '2', 'GET', 'v:NSPAM')).trim())).toBeGreaterThanOrEqual(spamBefore + 5);
    expect(bayesRule(await symbolsFrom('mx1', corpusMessage('spam', 13, freshTag('bayes-post'))))).toMatch(/^BAYES_(99|999|95|80)$/);
    const logs = (await logsSince('spamassassin', since)).join('\n');
    expect(logs).toMatch(new RegExp(`redis-master-proxy: master is ${replicaSvc}:6379 \\(was ${masterSvc}:6379`));

    // the tests after this one start from a whole cluster: the old master back as a replica, and every
    // node's greylist, rate limiter and journal writing to the new master (not failing open on the old one)
    await startService(masterSvc);
    for (const t = Date.now(); (await redisRole(masterSvc).catch(() => '')) !== 'slave'; await sleep(500)) {
      if (Date.now() - t > 60_000) throw new Error(`${masterSvc} did not rejoin as a replica within 60 s`);
    }
    const followed = await waitNodesFollowMaster();
    console.log(`bayes: every node wrote through the new master ${followed} ms after ${masterSvc} rejoined`);
    // (its many `docker exec` of node took over 5 minutes on a loaded 2-core machine)
  }, 900_000);
});
