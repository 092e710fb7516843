// The Swarm stack file as `docker stack deploy` reads it (`docker stack config`: merges, env files and
// interpolation, no swarm needed): one node per label, real client addresses, the same per-node settings
// as the compose cluster the other tests run, Redis and Sentinels spread so that one host may fail.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { composeCommand } from '../../../scripts/docker.mjs';
import { COMPOSE_DIR, ROOT } from '../../../scripts/stack.mjs';

const run = promisify(execFile);
/** docker-compose.cluster.yml's default network (MOAT_NET unset). */
const COMPOSE_NET = '172.29.27';

interface Service {
  environment?: Record<string, string>;
  ports?: Array<{ target: number; published: number; mode?: string }>;
  volumes?: Array<{ source?: string; target?: string } | string>;
  deploy?: { mode?: string; endpoint_mode?: string; placement?: { constraints?: string[] } };
  /** Long syntax (`docker stack config`, compose v2) or the names (compose v1 may keep the short form). */
  secrets?: Array<{ source: string; target?: string; uid?: string; gid?: string; mode?: number | string } | string>;
}
interface Stack {
  services: Record<string, Service>;
  networks: Record<string, { driver?: string; driver_opts?: Record<string, string>; ipam?: { config?: Array<{ subnet?: string }> } }>;
}

/**
 * The stack as `docker stack deploy` reads it. Debian's docker 20.10 client has no `stack config`; then
 * compose reads the file (the same loader rules for env_file, merges and interpolation).
 */
async function stackConfig(): Promise<Stack> {
  const file = path.join(COMPOSE_DIR, 'stack.swarm.yml');
  const opts = { cwd: COMPOSE_DIR, env: { ...process.env, MOAT_TAG: 'ci' } };
  let stdout: string;
  try {
    ({ stdout } = await run('docker', ['stack', 'config', '-c', file], opts));
  } catch {
    const [cmd, ...pre] = await composeCommand();
    ({ stdout } = await run(cmd ?? 'docker', [...pre, '-f', file, 'config'], opts));
  }
  const stack = parse(stdout) as Stack;
  // compose prints published ports as strings
  for (const s of Object.values(stack.services)) for (const p of s.ports ?? []) p.published = Number(p.published);
  return stack;
}

/** The one-host cluster's resolved config (compose v1 or v2; both print YAML). */
async function clusterConfig(): Promise<Stack> {
  const [cmd, ...pre] = await composeCommand();
  const { stdout } = await run(cmd ?? 'docker', [...pre, '-f', path.join(COMPOSE_DIR, 'docker-compose.cluster.yml'), 'config'], {
    cwd: COMPOSE_DIR,
    env: { ...process.env, MOAT_TAG: 'ci' },
  });
  return parse(stdout) as Stack;
}

const secretNames = (s: Service | undefined): string[] => (s?.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));

const nodeOf = (s: Service | undefined): string | undefined =>
  s?.deploy?.placement?.constraints?.map((c) => /^node\.labels\.moat\.node == (mx\d)$/.exec(c)?.[1]).find(Boolean);

describe('stack.swarm.yml', () => {
  it('pins each node to its label, publishes SMTP in host mode, and reads the per-node env files', async () => {
    const stack = await stackConfig();
    const compose = await clusterConfig();
    const subnet = stack.networks.moat?.ipam?.config?.[0]?.subnet;
    expect(subnet).toBeTruthy();
    expect(stack.networks.moat?.driver).toBe('overlay');
    expect(stack.networks.moat?.driver_opts?.encrypted).toBe('true');
    for (const n of ['mx1', 'mx2', 'mx3']) {
      const s = stack.services[n];
      expect(nodeOf(s), n).toBe(n);
      // host mode: the routing mesh would hide the client's address from greylisting and DNS lists
      const smtp = s?.ports?.find((p) => p.target === 25);
      expect(smtp, n).toMatchObject({ published: 25, mode: 'host' });
      const env = s?.environment ?? {};
      expect(env.MOAT_HOSTNAME).toBe(`${n}.example.org`);
      expect(env.MOAT_QUEUE_TRANSPORT).toBe(n === 'mx1' ? 'maildir:/var/lib/moat/maildir' : 'smtp://mx1:25');
      expect(env.MOAT_MYNETWORKS?.split(',')).toContain(subnet);
      // the nodes keep each other's spam verdict and Authentication-Results, nobody else's
      expect(env.MOAT_TRUSTED_RELAYS).toBe(subnet);
      // the same per-node identity as the one-host cluster the other tests exercise
      const c = compose.services[n]?.environment ?? {};
      expect(c.MOAT_HOSTNAME).toBe(env.MOAT_HOSTNAME);
      expect(c.MOAT_QUEUE_TRANSPORT).toBe(env.MOAT_QUEUE_TRANSPORT);
      expect(c.MOAT_TRUSTED_RELAYS?.split(',').sort()).toEqual(['.11', '.12', '.13'].map((h) => `${COMPOSE_NET}${h}/32`));
    }
    // only the primary offers submission
    expect(stack.services.mx2?.ports?.some((p) => p.target === 587)).toBe(false);
  });

  it('spreads Redis and the Sentinels so that losing one host still allows a failover', async () => {
    const stack = await stackConfig();
    const sentinels = ['sentinel-1', 'sentinel-2', 'sentinel-3'].map((s) => nodeOf(stack.services[s]));
    expect(new Set(sentinels)).toEqual(new Set(['mx1', 'mx2', 'mx3']));
    const a = nodeOf(stack.services['redis-a']);
    const b = nodeOf(stack.services['redis-b']);
    expect(a && b && a !== b).toBe(true);
    for (const s of ['redis-a', 'redis-b', 'sentinel-1', 'sentinel-2', 'sentinel-3']) {
      expect(stack.services[s]?.deploy?.endpoint_mode, s).toBe('dnsrr');
    }
    expect(stack.services['redis-b']?.environment?.MOAT_REDIS_REPLICAOF).toBe('redis-a');
    // the same name-based Sentinel setup as the one-host cluster, whose failover the suite exercises
    const compose = await clusterConfig();
    for (const s of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
      const want = stack.services[s]?.environment ?? {};
      const got = compose.services[s]?.environment ?? {};
      for (const k of ['MOAT_REDIS_MASTER', 'MOAT_SENTINEL_ANNOUNCE_IP', 'MOAT_SENTINEL_ANNOUNCE_HOSTNAMES', 'MOAT_SENTINEL_RANK']) {
        expect(got[k], `${s} ${k}`).toBe(want[k]);
      }
    }
    for (const s of ['unbound', 'spamassassin']) expect(stack.services[s]?.deploy?.mode, s).toBe('global');
  });

  it('puts Redis and the Sentinels behind one password, the redis_password secret, in both stack files', async () => {
    for (const file of [await stackConfig(), await clusterConfig()]) {
      for (const s of ['redis-a', 'redis-b', 'sentinel-1', 'sentinel-2', 'sentinel-3']) {
        expect(secretNames(file.services[s]), s).toContain('redis_password');
        expect(file.services[s]?.environment?.MOAT_REDIS_PASSWORD_FILE, s).toBe('/run/secrets/redis_password');
      }
      for (const n of ['mx1', 'mx2', 'mx3']) {
        expect(secretNames(file.services[n]), n).toContain('redis_password');
        expect(file.services[n]?.environment, n).toMatchObject({
          MOAT_REDIS_PASSWORD_FILE: '/run/secrets/redis_password',
          MOAT_REDIS_SENTINEL_PASSWORD_FILE: '/run/secrets/redis_password',
        });
      }
    }
    // Swarm: the nodes' user owns it, Redis reads it through group moat (compose/redis/Dockerfile)
    const stack = await stackConfig();
    const mode = (x: unknown) => Number.parseInt(String(x), typeof x === 'string' && x.startsWith('0') ? 8 : 10);
    const of = (svc: string) => stack.services[svc]?.secrets?.find((x) => typeof x !== 'string' && x.source === 'redis_password');
    expect(of('mx1')).toMatchObject({ uid: '10025', gid: '10025' });
    expect(mode((of('mx1') as { mode?: unknown }).mode)).toBe(0o400);
    expect(of('redis-a')).toMatchObject({ gid: '10025' });
    expect(mode((of('redis-a') as { mode?: unknown }).mode)).toBe(0o440);
  });

  it('shares Bayes the same way in both stack files: spamd follows the same Sentinels with the redis_password secret', async () => {
    const stack = await stackConfig();
    const compose = await clusterConfig();
    for (const file of [stack, compose]) {
      const sa = file.services.spamassassin;
      expect(secretNames(sa)).toContain('redis_password');
      expect(sa?.environment).toMatchObject({
        MOAT_SPAMD_BAYES_SENTINELS: 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379',
        MOAT_REDIS_PASSWORD_FILE: '/run/secrets/redis_password',
      });
      // the Sentinels it asks are the ones the nodes ask (cluster/config/moat.yaml greylist.redis.sentinels)
      expect(sa?.environment?.MOAT_SPAMD_BAYES_REDIS).toBeUndefined();
    }
    // Swarm: debian-spamd reads the secret through group moat (compose/spamassassin/Dockerfile)
    const of = stack.services.spamassassin?.secrets?.find((x) => typeof x !== 'string' && x.source === 'redis_password');
    expect(of).toMatchObject({ gid: '10025' });
  });

  it('gives each node a configuration moat accepts: the shared moat.yaml with its environment', async () => {
    const stack = await stackConfig();
    // the node's secrets as files, as Swarm mounts them under /run/secrets
    const secrets = mkdtempSync(path.join(tmpdir(), 'moat-swarm-secrets-'));
    for (const n of ['mx1', 'mx2', 'mx3']) {
      // `moat config check` as the node would load it (the file plus its MOAT_* environment)
      // (each *_FILE secret, the Redis password and the quarantine admin token, as a local file: the
      // container's /run/secrets path does not exist on this host)
      const nodeEnv = Object.fromEntries(
        Object.entries(stack.services[n]?.environment ?? {}).map(([k, v]) => {
          const secret = (k.startsWith('MOAT_REDIS_') && k.endsWith('_FILE')) || k === 'MOAT_QUARANTINE_TOKEN_FILE';
          if (!secret) return [k, v];
          const local = path.join(secrets, path.basename(v));
          // 24 characters: also long enough for quarantine.admin_token's minimum
          writeFileSync(local, 'test-secret-0123456789ab\n');
          return [k, local];
        }),
      );
      expect(nodeEnv.MOAT_QUARANTINE_TOKEN_FILE, n).toBeDefined();
      const env = { ...process.env, ...nodeEnv, MOAT_RESOLVER: '10.29.0.2:53' };
      const { stdout } = await run(process.execPath, [path.join(ROOT, 'apps/cli/src/main.ts'), 'config', 'check', path.join(COMPOSE_DIR, 'cluster/config/moat.yaml')], { env });
      expect(stdout, n).toMatch(/^ok /);
      expect(stdout, n).toContain(`hostname: ${n}.example.org`);
      expect(stdout, n).toMatch(/greylist: sentinels sentinel-1:26379,sentinel-2:26379,sentinel-3:26379 \(moat\)/);
      expect(stdout, n).toContain(n === 'mx1' ? '-> maildir:/var/lib/moat/maildir' : '-> smtp://mx1:25');
    }
  });
});
