// Shared Bayes that follows the Redis master: a real spamd stores Bayes in Redis through the stack's
// Sentinel-following forwarder (compose/spamassassin/redis-master-proxy.pl), with a password on Redis
// and on the Sentinels. Learn, kill the master, and learning and scoring go on against the promoted replica.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Daemon,
  freePort,
  type RedisSentinels,
  type RedisServer,
  type SpamdDaemon,
  spawnDaemon,
  startRedis,
  startSentinels,
  startSpamd,
  tmpDir,
  waitForPort,
} from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpamdClient, type SpamdClient } from '../src/index.ts';
import { BAYES_TEST_CF, bayesRule, ham, spam } from './corpus.ts';

const PROXY = fileURLToPath(new URL('../../../compose/spamassassin/redis-master-proxy.pl', import.meta.url));
const PW = 'bayes-test-pw';
const NAME = 'moat';

let master: RedisServer;
let replica: RedisServer;
let sentinels: RedisSentinels;
let proxy: Daemon;
let spamd: SpamdDaemon;
let client: SpamdClient;
let dir: { path: string; remove(): Promise<void> };

const redisCli = (port: number, ...args: string[]) =>
  spawnSync('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', PW, ...args], { encoding: 'utf8' }).stdout.trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Learns until spamd says learned: while the store is out of reach (a failover), spamd changes nothing. */
async function learnUntilLearned(message: Buffer, as: 'spam' | 'ham'): Promise<string> {
  let outcome = 'none';
  for (let i = 0; i < 40 && outcome !== 'learned'; i++) {
    outcome = (await client.learn({ message, as }).catch(() => ({ outcome: 'failed' }))).outcome;
    if (outcome !== 'learned') await sleep(250);
  }
  return outcome;
}

beforeAll(async () => {
  const auth = ['--requirepass', PW, '--masterauth', PW];
  master = await startRedis({ args: auth });
  replica = await startRedis({ args: auth, replicaOf: { host: master.host, port: master.port } });
  sentinels = await startSentinels(NAME, master, 3, { masterPassword: PW, sentinelPassword: PW });
  dir = await tmpDir('bayes-proxy');
  writeFileSync(join(dir.path, 'redis-password'), `${PW}\n`);
  const port = await freePort();
  proxy = spawnDaemon('perl', [PROXY], {
    env: {
      PATH: process.env.PATH ?? '',
      MOAT_BAYES_SENTINELS: sentinels.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      MOAT_BAYES_SENTINEL_NAME: NAME,
      MOAT_REDIS_PASSWORD_FILE: join(dir.path, 'redis-password'),
      MOAT_BAYES_PROXY_LISTEN: `127.0.0.1:${port}`,
      MOAT_BAYES_PROXY_POLL_MS: '200',
    },
  });
  await waitForPort(port, '127.0.0.1', 10_000);
  spamd = await startSpamd({ allowTell: true, bayes: { redis: `127.0.0.1:${port}`, password: PW }, localCf: BAYES_TEST_CF });
  client = createSpamdClient({ host: spamd.host, port: spamd.port, timeoutMs: 20_000 });
}, 90_000);

afterAll(async () => {
  await spamd?.close();
  await proxy?.stop();
  await sentinels?.stop();
  await replica?.stop();
  await master?.stop();
  await dir?.remove();
});

describe('Bayes in Redis behind Sentinel, through the forwarder', { timeout: 120_000 }, () => {
  it('learns into the master, and after a failover learns into the promoted replica with the state kept', async () => {
    for (let i = 1; i <= 3; i++) {
      expect((await client.learn({ message: spam(i), as: 'spam' })).outcome).toBe('learned');
      expect((await client.learn({ message: ham(i), as: 'ham' })).outcome).toBe('learned');
    }
    expect(redisCli(master.port, '-n', '2', 'GET', 'v:NSPAM')).toBe('3');
    expect(bayesRule((await client.symbols(spam(20))).symbols)).toMatch(/^BAYES_(9\d+|8\d)$/);
    // what the master acknowledged has reached the replica (a failover loses only what has not)
    expect(Number(redisCli(master.port, 'WAIT', '1', '5000'))).toBe(1);

    await master.kill();
    const deadline = Date.now() + 60_000;
    while (!redisCli(sentinels.sentinels[0]!.port, 'SENTINEL', 'get-master-addr-by-name', NAME).endsWith(String(replica.port))) {
      if (Date.now() > deadline) throw new Error(`no failover:\n${proxy.output()}`);
      await sleep(200);
    }
    // spamd's children held connections to the old master; the forwarder closed them, they reconnect
    expect(await learnUntilLearned(spam(4), 'spam')).toBe('learned');
    expect(redisCli(replica.port, '-n', '2', 'GET', 'v:NSPAM')).toBe('4');
    expect(bayesRule((await client.symbols(spam(21))).symbols)).toMatch(/^BAYES_(9\d+|8\d)$/);
    expect(bayesRule((await client.symbols(ham(21))).symbols)).toMatch(/^BAYES_(00|05|20)$/);
    expect(proxy.output()).toMatch(new RegExp(`master is 127\\.0\\.0\\.1:${replica.port} \\(was 127\\.0\\.0\\.1:${master.port}`));
  });

  it('a planned switch (SENTINEL FAILOVER, the old master stays up as a replica): open connections are moved, no write hits the replica', async () => {
    // the kill above made the replica master; the killed server comes back as a replica of it
    await master.restart();
    redisCli(master.port, 'REPLICAOF', replica.host, String(replica.port));
    const deadline = Date.now() + 60_000;
    while (!/master_link_status:up/.test(redisCli(master.port, 'INFO', 'replication'))) {
      if (Date.now() > deadline) throw new Error('the old master did not sync');
      await sleep(200);
    }
    // spamd's children hold their Bayes connections to the current master through the forwarder
    expect(await learnUntilLearned(ham(30), 'ham')).toBe('learned');
    const before = proxy.output().length;
    const failover = redisCli(sentinels.sentinels[0]!.port, 'SENTINEL', 'FAILOVER', NAME);
    expect(failover).toBe('OK');
    while (!redisCli(sentinels.sentinels[0]!.port, 'SENTINEL', 'get-master-addr-by-name', NAME).endsWith(String(master.port))) {
      if (Date.now() > deadline) throw new Error(`no planned failover:\n${proxy.output()}`);
      await sleep(200);
    }
    // the forwarder notices within its 200 ms poll; a write before that may still reach the old master in
    // the instant before Sentinel demotes it (and is lost: docs/rollout.md), so learn after it switched
    const switched = new RegExp(`master is 127\\.0\\.0\\.1:${master.port} \\(was 127\\.0\\.0\\.1:${replica.port}; closing \\d+ connections\\)`);
    while (!switched.test(proxy.output().slice(before))) {
      if (Date.now() > deadline) throw new Error(`the forwarder did not switch:\n${proxy.output()}`);
      await sleep(100);
    }
    expect(await learnUntilLearned(spam(40), 'spam')).toBe('learned');
    // the demoted server refused nothing it was sent: every write went to the new master
    expect(spamd.output()).not.toMatch(/READONLY/);
    expect(Number(redisCli(master.port, '-n', '2', 'GET', 'v:NSPAM'))).toBeGreaterThanOrEqual(5);
  });
});
