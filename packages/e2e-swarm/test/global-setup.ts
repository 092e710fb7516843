// Builds the swarm once for the suite: the moat images on the build engine, three engines in network
// namespaces joined as three managers (scripts/swarm.mjs), the images pushed once to the private registry,
// then `docker stack deploy` of compose/stack.swarm.yml with this suite's stack.test.yml; tears all of it down.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { ensureDocker } from '../../../scripts/docker.mjs';
import { buildImages, COMPOSE_DIR, ensureSecrets, TAG } from '../../../scripts/stack.mjs';
import { CLIENT2, down, kernelLacks, NET, NODES, pushImages, REGISTRY, SWARM_DIR, up, usage } from '../../../scripts/swarm.mjs';
import { type SwarmInfo, waitConverged } from './swarm.ts';

const run = promisify(execFile);
/** The images the stack runs (compose/stack.swarm.yml), as pushed to the registry. */
export const STACK_IMAGES = ['mx', 'redis', 'unbound', 'spamassassin'];
/** The release the stack is deployed at; the upgrade test pushes the next one. */
export const RELEASE = 'v1';
const OVERLAY = { name: 'moat_overlay', subnet: '10.29.0.0/24' };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (k: string) => {
    timings[k] = (Date.now() - t) / 1000;
    t = Date.now();
  };
  const secrets = path.join(SWARM_DIR, 'secrets');
  const deploy = {
    dir: COMPOSE_DIR,
    files: ['stack.swarm.yml', '../packages/e2e-swarm/stack.test.yml'],
    env: { MOAT_REGISTRY: `${REGISTRY}/`, MOAT_TAG: RELEASE, MOAT_SECRETS: secrets, MOAT_OVERLAY_SUBNET: OVERLAY.subnet, MOAT_SWARM_OVERLAY: OVERLAY.name },
  };
  const info: SwarmInfo = { nodes: NODES, registry: REGISTRY, client1: `${NET}.1`, client2: CLIENT2, deploy, secrets, greylistDelayMs: 5000, overlay: OVERLAY, timings };
  // the helpers read the facts from inject(), which a global setup cannot: they look here first
  (globalThis as { __moatSwarm?: SwarmInfo }).__moatSwarm = info;
  project.provide('swarm', info);
  const first = NODES[0];
  if (!first) throw new Error('no nodes');
  // skipped only where the kernel cannot (no namespaces, veth, bridge, VXLAN); not root or a broken tool fails
  const lacks = await kernelLacks();
  if (lacks) {
    info.lacks = lacks;
    project.provide('swarm', info);
    console.warn(`e2e-swarm: SKIPPED, ${lacks}`);
    return async () => {};
  }
  // MOAT_E2E_REUSE=1: run the tests against the swarm a kept run left (MOAT_E2E_KEEP=1)
  if (process.env.MOAT_E2E_REUSE) {
    timings.converge = await waitConverged();
    return async () => {
      if (!process.env.MOAT_E2E_KEEP) await down();
    };
  }
  const { env: buildEnv } = await ensureDocker();
  // the images build inside Docker from the repo (compose/app/Dockerfile): nothing is bundled on the host
  if (!process.env.MOAT_E2E_NO_BUILD) await buildImages({ only: STACK_IMAGES });
  lap('images');
  // a watchdog takes the swarm down if this process dies first (killed, interrupted); none when it is kept
  timings.engines = await up({ watch: process.env.MOAT_E2E_KEEP ? 0 : process.pid });
  t = Date.now();
  try {
    await pushImages(Object.fromEntries(STACK_IMAGES.map((n) => [`moat/${n}:${TAG}`, `moat/${n}:${RELEASE}`])), { buildHost: buildEnv.DOCKER_HOST });
    lap('push');
    await ensureSecrets(secrets, { users: [['tester', 'e2e-only-password']] });
    // the overlay the stack would create, without encryption (this kernel has no ESP: stack.test.yml)
    await run('docker', ['-H', first.host, 'network', 'create', '-d', 'overlay', '--attachable', '--subnet', OVERLAY.subnet, OVERLAY.name]);
    await run('docker', ['-H', first.host, 'stack', 'deploy', ...deploy.files.flatMap((f) => ['-c', f]), 'moat'], {
      cwd: deploy.dir,
      env: { ...process.env, ...deploy.env },
    });
    timings.converge = await waitConverged();
  } catch (e) {
    if (!process.env.MOAT_E2E_KEEP) await down();
    throw e;
  }
  console.log(
    `e2e-swarm: images ${timings.images} s, engines + swarm + registry ${timings.engines} s, push ${timings.push} s, ` +
      `deploy to every service healthy ${timings.converge} s`,
  );
  const started = Date.now();
  return async () => {
    const u = await usage().catch(() => ({}));
    console.log(`e2e-swarm: ${Math.round((Date.now() - started) / 1000)} s of tests after setup; CPU and memory per node: ${JSON.stringify(u)}`);
    if (process.env.MOAT_E2E_KEEP) return;
    await down();
  };
}
