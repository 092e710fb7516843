// The shared store wants its password: without the redis_password secret Redis and the Sentinels answer
// nothing but NOAUTH, with it they serve (the greylist tests show the nodes logging in through it).
import { beforeAll, describe, expect, it } from 'vitest';
import { execIn, REDIS, redisCli, SENTINELS, waitHealthy } from './cluster.ts';

beforeAll(() => waitHealthy());

describe('Redis and Sentinel passwords', () => {
  it('refuse a client without the password, serve one with it', async () => {
    for (const r of REDIS) {
      expect(await execIn(r, 'redis-cli', 'get', 'anything'), r).toMatch(/NOAUTH/);
      expect((await redisCli(r, 'ping')).trim(), r).toBe('PONG');
    }
    for (const s of SENTINELS) {
      expect(await execIn(s, 'redis-cli', '-p', '26379', 'sentinel', 'masters'), s).toMatch(/NOAUTH/);
      expect(await redisCli(s, '-p', '26379', 'sentinel', 'get-master-addr-by-name', 'moat'), s).toMatch(/^redis-[ab]\n6379\n$/);
    }
  });

  it('keeps the password out of the containers\' environment (it is a secret file)', async () => {
    for (const svc of [...REDIS, ...SENTINELS, 'mx1']) {
      const env = await execIn(svc, 'env');
      expect(env, svc).toContain('MOAT_REDIS_PASSWORD_FILE=/run/secrets/redis_password');
      expect(env, svc).not.toMatch(/^MOAT_REDIS_PASSWORD=/m);
    }
  });
});
