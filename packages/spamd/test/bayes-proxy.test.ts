// The Bayes forwarder (compose/spamassassin/redis-master-proxy.pl) on its own, against a real redis-server
// and redis-sentinel: one stalled client (it writes and never reads) and one slow Sentinel (it accepts and
// never answers) delay nobody else; a second client still gets every answer, through the Sentinels' master.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Daemon, freePort, type RedisSentinels, type RedisServer, spawnDaemon, startRedis, startSentinels, waitForPort } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PROXY = fileURLToPath(new URL('../../../compose/spamassassin/redis-master-proxy.pl', import.meta.url));
const NAME = 'moat';

let master: RedisServer;
let sentinels: RedisSentinels;
let silent: net.Server;
const held: net.Socket[] = [];
let proxy: Daemon;
let port: number;

/** A RESP command. */
const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Sends commands on a connection and collects replies until `lines` lines have come (a hang fails the test by its timeout). */
function exchange(sock: net.Socket, payload: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (b: Buffer) => {
      got += b.toString();
      const out = got.split('\r\n').filter(Boolean);
      if (out.length >= lines) {
        sock.off('data', onData);
        sock.off('error', reject);
        resolve(out);
      }
    };
    sock.on('data', onData);
    sock.on('error', reject);
    sock.write(payload);
  });
}

const connect = () =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });

beforeAll(async () => {
  master = await startRedis();
  sentinels = await startSentinels(NAME, master, 1);
  // a "Sentinel" that accepts and never answers, asked first on every poll
  silent = net.createServer((s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  port = await freePort();
  const slow = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  proxy = spawnDaemon('perl', [PROXY], {
    env: {
      PATH: process.env.PATH ?? '',
      MOAT_BAYES_SENTINELS: [slow, ...sentinels.sentinels.map((s) => `${s.host}:${s.port}`)].join(','),
      MOAT_BAYES_SENTINEL_NAME: NAME,
      MOAT_BAYES_PROXY_LISTEN: `127.0.0.1:${port}`,
      MOAT_BAYES_PROXY_POLL_MS: '200',
    },
  });
  await waitForPort(port, '127.0.0.1', 10_000);
  // the watcher's first answer (after the slow Sentinel's 2 s) names the master
  for (const t = Date.now(); !/master is 127\.0\.0\.1:/.test(proxy.output()); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() - t > 20_000) throw new Error(`no master:\n${proxy.output()}`);
  }
}, 60_000);

afterAll(async () => {
  for (const s of held) s.destroy();
  silent?.close();
  await proxy?.stop();
  await sentinels?.stop();
  await master?.stop();
});

describe('redis-master-proxy.pl', { timeout: 60_000 }, () => {
  it('relays to the master the Sentinels name while a slow Sentinel is asked first', async () => {
    const c = await connect();
    expect(await exchange(c, resp('SET', 'proxy-test', 'v1') + resp('GET', 'proxy-test'), 3)).toEqual(['+OK', '$2', 'v1']);
    c.destroy();
    expect(proxy.output()).toContain(`master is 127.0.0.1:${master.port}`);
  });

  it('a client that writes and never reads stalls only itself: another gets every answer', async () => {
    // replies to 200k pipelined GETs of a 64 KiB value (~13 GB) outgrow every buffer on the way
    const stalled = await connect();
    stalled.pause();
    const c = await connect();
    expect(await exchange(c, resp('SET', 'big', 'x'.repeat(65_536)), 1)).toEqual(['+OK']);
    const burst = resp('GET', 'big').repeat(1000);
    for (let i = 0; i < 200; i++) stalled.write(burst);
    // the stalled client's replies now fill the proxy's buffer toward it and Redis's toward the proxy
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 20; i++) {
      expect(await exchange(c, resp('INCR', 'counter'), 1)).toEqual([`:${i + 1}`]);
    }
    // and a new client is joined meanwhile
    const d = await connect();
    expect(await exchange(d, resp('PING'), 1)).toEqual(['+PONG']);
    for (const s of [stalled, c, d]) s.destroy();
  });

  it('a client that connects and sends nothing holds nobody up', async () => {
    const idle = await connect();
    const c = await connect();
    expect(await exchange(c, resp('PING'), 1)).toEqual(['+PONG']);
    for (const s of [idle, c]) s.destroy();
  });
});
