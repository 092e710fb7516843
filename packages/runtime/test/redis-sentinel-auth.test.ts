// moat.yaml's Redis in Sentinel mode with passwords, config to connection (views.redis -> connectRedis), against real
// daemons on loopback: a master with `requirepass` (and an ACL user), Sentinels with their own login to it.
import { parseConfig, views } from '@moat/config';
import { connectRedis, type RedisClient } from '@moat/redis';
import { type RedisSentinels, type RedisServer, startRedis, startSentinels } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const NAME = 'moatauth';
const MASTER_PW = 'master secret';
const ACL_USER = 'moat-mx';
const ACL_PW = 'acl-master-pw';
const SENTINEL_PW = 'sentinel-secret';
const SENTINEL_ACL_USER = 'moat-sentinel';
const SENTINEL_ACL_PW = 'acl-sentinel-pw';
const BASE = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n';

let master: RedisServer;
/** requirepass on the Sentinel; it logs in to the master as the default user. */
let withPass: RedisSentinels;
/** An ACL user on the Sentinel; it logs in to the master as an ACL user. */
let withAcl: RedisSentinels;
const clients: RedisClient[] = [];

beforeAll(async () => {
  master = await startRedis({ args: ['--requirepass', MASTER_PW, '--user', ACL_USER, 'on', `>${ACL_PW}`, '~*', '&*', '+@all'] });
  // One Sentinel each is enough to find the master (failover is greylist/test/sentinel.test.ts's business).
  withPass = await startSentinels(NAME, master, 1, { masterPassword: MASTER_PW, sentinelPassword: SENTINEL_PW });
  withAcl = await startSentinels(NAME, master, 1, {
    masterUsername: ACL_USER,
    masterPassword: ACL_PW,
    sentinelUsername: SENTINEL_ACL_USER,
    sentinelPassword: SENTINEL_ACL_PW,
  });
  // The Sentinels' own logins to the master work: a wrong auth-pass shows as `s_down,master,disconnected`.
  for (const [set, login] of [
    [withPass, { password: SENTINEL_PW }],
    [withAcl, { username: SENTINEL_ACL_USER, password: SENTINEL_ACL_PW }],
  ] as const) {
    const { host, port } = set.sentinels[0]!;
    const user = 'username' in login ? encodeURIComponent(login.username) : '';
    const admin = connectRedis({ url: `redis://${user}:${encodeURIComponent(login.password)}@${host}:${port}` }, { connectionName: 'moat-test-admin', connectTimeoutMs: 1000 });
    await ready(admin);
    const flags = async () => {
      const m = (await admin.call('SENTINEL', 'MASTER', NAME)) as string[];
      return m[m.indexOf('flags') + 1];
    };
    const deadline = Date.now() + 15_000;
    while ((await flags()) !== 'master') {
      if (Date.now() > deadline) throw new Error(`Sentinel on ${set.sentinels[0]!.port}: master flags ${await flags()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    admin.disconnect();
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await withAcl?.stop();
  await withPass?.stop();
  await master?.stop();
});

function yamlFor(s: RedisSentinels, extra = ''): string {
  return `${BASE}greylist:\n  redis:\n    sentinels: [${s.sentinels.map((x) => `"${x.host}:${x.port}"`).join(', ')}]\n    name: ${NAME}\n${extra}`;
}

/** The greylist's and journal's way in: moat.yaml (+ environment) -> target -> fail-fast client. */
function clientFrom(yaml: string, env: Record<string, string>): { client: RedisClient; errors: string[] } {
  const config = parseConfig(yaml, { env });
  const client = connectRedis(views.redis(config), { connectionName: 'moat-test', connectTimeoutMs: 1000 });
  clients.push(client);
  const errors: string[] = [];
  client.on('error', (e: Error) => errors.push(e.message));
  return { client, errors };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function ready(c: RedisClient): Promise<void> {
  await until(() => c.status === 'ready', 10_000, 'the client to be ready');
}

describe('Sentinel mode with passwords', () => {
  it('passwords from the environment: SET/GET on the master found through a Sentinel with requirepass', async () => {
    const { client, errors } = clientFrom(yamlFor(withPass), { MOAT_REDIS_PASSWORD: MASTER_PW, MOAT_REDIS_SENTINEL_PASSWORD: SENTINEL_PW });
    await ready(client);
    await client.set('moat:test:k', 'v1');
    expect(await client.get('moat:test:k')).toBe('v1');
    expect(await client.call('ROLE')).toContain('master');
    expect(errors).toEqual([]);
  }, 20_000);

  it('Redis 6 ACL users on the master and on the Sentinel (users in the file, passwords in the environment)', async () => {
    const { client, errors } = clientFrom(yamlFor(withAcl, `    username: ${ACL_USER}\n    sentinel_username: ${SENTINEL_ACL_USER}\n`), {
      MOAT_REDIS_PASSWORD: ACL_PW,
      MOAT_REDIS_SENTINEL_PASSWORD: SENTINEL_ACL_PW,
    });
    await ready(client);
    await client.set('moat:test:acl', 'v2');
    expect(await client.get('moat:test:acl')).toBe('v2');
    expect(await client.call('ACL', 'WHOAMI')).toBe(ACL_USER);
    expect(errors).toEqual([]);
  }, 20_000);

  it('a wrong master password: WRONGPASS from the master, commands fail at once (the greylist fails open)', async () => {
    const { client, errors } = clientFrom(yamlFor(withPass), { MOAT_REDIS_PASSWORD: 'wrong', MOAT_REDIS_SENTINEL_PASSWORD: SENTINEL_PW });
    await until(() => errors.some((e) => e.startsWith('WRONGPASS')), 10_000, 'WRONGPASS');
    const t0 = Date.now();
    await expect(client.set('moat:test:k', 'x')).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(200);
    expect(client.status).not.toBe('ready');
  }, 20_000);

  it('a wrong Sentinel password: the Sentinels are named, with their WRONGPASS', async () => {
    const { client, errors } = clientFrom(yamlFor(withPass), { MOAT_REDIS_PASSWORD: MASTER_PW, MOAT_REDIS_SENTINEL_PASSWORD: 'wrong' });
    await until(() => errors.some((e) => /All sentinels are unreachable.*Last error: WRONGPASS/.test(e)), 10_000, 'the Sentinel error');
    await expect(client.get('moat:test:k')).rejects.toThrow();
  }, 20_000);

  it('no passwords (Sentinel mode before greylist.redis.password existed): NOAUTH, never a silent success', async () => {
    const { client, errors } = clientFrom(yamlFor(withPass), {});
    await until(() => errors.some((e) => /NOAUTH/.test(e)), 10_000, 'NOAUTH');
    expect(client.status).not.toBe('ready');
  }, 20_000);

  it('URL mode: the password rides in MOAT_REDIS_URL, as before', async () => {
    const { client, errors } = clientFrom(BASE, { MOAT_REDIS_URL: `redis://:${encodeURIComponent(MASTER_PW)}@${master.host}:${master.port}` });
    await ready(client);
    expect(await client.get('moat:test:k')).toBe('v1');
    expect(errors).toEqual([]);
  }, 20_000);
});
