// The shared store wants its password: without the redis_password secret Redis and the Sentinels answer
// nothing but NOAUTH, with it they serve (the greylist tests show the nodes logging in through it), and a
// new password takes over when the services restart in docs/rollout.md's order.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMPOSE_DIR } from '../../../scripts/stack.mjs';
import {
  cluster,
  execIn,
  freshClientIp,
  freshSender,
  freshTag,
  REDIS,
  redisCli,
  SENTINELS,
  sendAt,
  startService,
  stopService,
  waitDelivered,
  waitHealthy,
} from './cluster.ts';

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

  it('rotates: a new password in the secret file, services restarted in the documented order', async () => {
    // the file the compose secret is bind-mounted from: written in place, every container sees it
    const file = path.join(COMPOSE_DIR, cluster().compose.env.MOAT_SECRETS ?? './secrets', 'redis-password');
    const old = readFileSync(file, 'utf8').trim();
    writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`);
    const t0 = Date.now();
    for (const s of SENTINELS) await stopService(s);
    for (const r of ['redis-b', 'redis-a']) {
      await stopService(r);
      await startService(r);
    }
    for (const s of SENTINELS) await startService(s);
    for (const n of ['mx3', 'mx2', 'mx1']) {
      await stopService(n);
      await startService(n);
    }
    await waitHealthy();
    console.log(`rotation: all services on the new password ${Date.now() - t0} ms after the file changed`);

    // the old password opens nothing, the new one everything
    for (const svc of [...REDIS, ...SENTINELS]) {
      const port = svc.startsWith('sentinel') ? ['-p', '26379'] : [];
      expect(await execIn(svc, 'env', `REDISCLI_AUTH=${old}`, 'redis-cli', ...port, 'ping'), svc).toMatch(/NOAUTH|WRONGPASS/);
      expect((await redisCli(svc, ...port, 'ping')).trim(), svc).toBe('PONG');
    }
    // and the nodes greylist through it: first sight at mx1, passed at mx2 after the delay
    const clientIp = freshClientIp();
    const from = freshSender();
    const first = await sendAt('mx1', { clientIp, from, tag: freshTag('rot-early') });
    expect(first.code, first.text).toBe(450);
    await sleep(cluster().greylistDelayMs + 500);
    const tag = freshTag('rot-pass');
    const retry = await sendAt('mx2', { clientIp, from, tag });
    expect(retry.stage, retry.text).toBe('done');
    expect((await waitDelivered([tag])).get(tag)).toBe(1);
  });
});
