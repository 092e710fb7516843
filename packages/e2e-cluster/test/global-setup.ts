// Starts the three-node cluster's test profile once for the suite with testcontainers'
// DockerComposeEnvironment (compose/docker-compose.cluster.yml + compose/cluster/docker-compose.test.yml),
// on SMTP ports chosen here so they survive container restarts; tears it down afterwards.
import net from 'node:net';
import path from 'node:path';
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment, Wait } from 'testcontainers';
import type { TestProject } from 'vitest/node';
import { BASE_IMAGE, cleanup, composeCommand, ensureDocker } from '../../../scripts/docker.mjs';
import { buildImages, COMPOSE_DIR, ensureSecrets, projectContainers, readEnvFile, TAG, waitHealthy } from '../../../scripts/stack.mjs';
import type { ClusterInfo } from './cluster.ts';

// A test project (scripts/docker.mjs cleanup() removes moat-*-test leftovers); this suite clears only its
// own. MOAT_CLUSTER_PROJECT names another one, so a run beside someone else's cleanup is left alone.
const PROJECT = process.env.MOAT_CLUSTER_PROJECT ?? 'moat-cluster-test';
const FILES = ['docker-compose.cluster.yml', 'cluster/docker-compose.test.yml'];
// The AUTH user of compose/secrets-test/auth/users, which every node mounts. The single-node suite
// (packages/e2e) rewrites the same file with the same pair, so the two suites may run side by side.
const USER = 'tester';
const PASSWORD = 'e2e-only-password';

/** A port on 127.0.0.1 free right now (the kernel's choice). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  await ensureDocker();
  await cleanup({ projects: [PROJECT], pattern: null, testcontainers: false });
  if (!process.env.MOAT_E2E_NO_BUILD) await buildImages({ test: true });
  await ensureSecrets(path.join(COMPOSE_DIR, 'secrets-test'), { users: [[USER, PASSWORD]] });
  const ports = { mx1: await freePort(), mx2: await freePort(), mx3: await freePort() };
  const fileEnv = readEnvFile(path.join(COMPOSE_DIR, 'cluster', 'test.env'));
  const env: Record<string, string> = {
    MOAT_TAG: TAG,
    MOAT_BASE_IMAGE: BASE_IMAGE,
    ...fileEnv,
    MOAT_MX1_SMTP: `127.0.0.1:${ports.mx1}`,
    MOAT_MX2_SMTP: `127.0.0.1:${ports.mx2}`,
    MOAT_MX3_SMTP: `127.0.0.1:${ports.mx3}`,
  };
  const t1 = Date.now();
  let compose = new DockerComposeEnvironment(COMPOSE_DIR, FILES)
    .withProjectName(PROJECT)
    .withEnvironment(env)
    .withDefaultWaitStrategy(Wait.forListeningPorts())
    .withStartupTimeout(180_000);
  // testcontainers drives `docker compose` (v2); with only docker-compose v1 installed, use the standalone binary.
  if ((await composeCommand()).length === 1) compose = compose.withClientOptions({ executable: { standalone: true } });
  let started: StartedDockerComposeEnvironment;
  try {
    // health is waited for here, not by testcontainers' Wait.forHealthCheck() (its default for a service with a
    // health check), which gives up at the first "unhealthy": on a loaded machine a check can time out once
    // (spamd's, while the scanner starts) and pass the next time
    started = await compose.up();
    await waitHealthy(PROJECT, { timeoutMs: 180_000 });
  } catch (e) {
    const cs = await projectContainers(PROJECT).catch(() => []);
    await cleanup({ projects: [PROJECT], pattern: null, testcontainers: false });
    throw new Error(`cluster did not come up: ${(e as Error).message}\n${cs.map((c) => `${c.service}: ${c.status}`).join('\n')}`);
  }
  const info: ClusterInfo = {
    project: PROJECT,
    compose: { files: FILES, env },
    ports,
    net: fileEnv.MOAT_NET ?? '172.29.28',
    domain: 'moat.test',
    greylistDelayMs: 5000,
    user: USER,
    password: PASSWORD,
  };
  project.provide('cluster', info);
  console.log(
    `e2e-cluster: images ${Math.round((t1 - t0) / 1000)} s, cluster up and healthy ${Math.round((Date.now() - t1) / 1000)} s; ` +
      `mx1 127.0.0.1:${ports.mx1}, mx2 :${ports.mx2}, mx3 :${ports.mx3}`,
  );
  return async () => {
    if (process.env.MOAT_E2E_KEEP) return;
    await started.down({ removeVolumes: true, timeout: 20_000 }).catch(() => undefined);
    await cleanup({ projects: [PROJECT], pattern: null, testcontainers: false });
  };
}
