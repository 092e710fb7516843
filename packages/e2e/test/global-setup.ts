// Starts the compose stack's test profile once for the suite with testcontainers' DockerComposeEnvironment.
// Builds the images first (offline base image via scripts/docker.mjs); tears the stack down afterwards.
import { chmod, cp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment } from 'testcontainers';
import type { TestProject } from 'vitest/node';
import { cleanup, composeCommand, ensureDocker } from '../../../scripts/docker.mjs';
import { buildImages, COMPOSE_DIR, ensureSecrets, ensureTestDkim, ensureTestRedisUrl, projectContainers, stackOptions, waitHealthy } from '../../../scripts/stack.mjs';
import type { StackInfo } from './stack.ts';

const USER = 'tester';
const PASSWORD = 'e2e-only-password';
/**
 * The stack's config directory: a fresh copy of compose/config-test (git-ignored, compose/.gitignore), since
 * config-dir.test.ts edits its moat.yaml; a run killed mid-edit must not leave the tracked file changed.
 */
const CONFIG_DIR = 'config-e2e';

/** compose/config-test copied to compose/config-e2e, replacing an old copy; readable by the services' user. */
async function freshConfigDir(): Promise<string> {
  const dir = path.join(COMPOSE_DIR, CONFIG_DIR);
  await rm(dir, { recursive: true, force: true });
  await cp(path.join(COMPOSE_DIR, 'config-test'), dir, { recursive: true });
  await chmod(dir, 0o755);
  for (const f of await readdir(dir)) await chmod(path.join(dir, f), 0o644);
  return dir;
}

function mapped(ports: string, container: number): number {
  const m = new RegExp(`127\\.0\\.0\\.1:(\\d+)->${container}/tcp`).exec(ports);
  if (!m) throw new Error(`port ${container} is not published on 127.0.0.1 (${ports})`);
  return Number(m[1]);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  await ensureDocker();
  const base = stackOptions({ test: true });
  const composeEnv: Record<string, string> = { ...base.env, MOAT_CONFIG_DIR: `./${CONFIG_DIR}` };
  const opts = { ...base, env: composeEnv };
  await cleanup({ projects: [opts.project], pattern: null, testcontainers: false });
  if (!process.env.MOAT_E2E_NO_BUILD) await buildImages({ test: true });
  const secrets = path.join(COMPOSE_DIR, 'secrets-test');
  await ensureSecrets(secrets, { users: [[USER, PASSWORD]] });
  // moat.test's signing key (made once, kept with the other test secrets) and its TXT record for the test Unbound
  await ensureTestDkim(secrets);
  // the test Redis wants a password: the apps get it inside their URL (a secret file, never the environment)
  await ensureTestRedisUrl(secrets, { net: opts.env.MOAT_NET });
  const configDir = await freshConfigDir();
  const t1 = Date.now();
  let env = new DockerComposeEnvironment(COMPOSE_DIR, opts.files)
    .withProjectName(opts.project)
    .withEnvironment(opts.env)
    .withStartupTimeout(180_000);
  // testcontainers drives `docker compose` (v2); with only docker-compose v1 installed, use the standalone binary.
  if ((await composeCommand()).length === 1) env = env.withClientOptions({ executable: { standalone: true } });
  let started: StartedDockerComposeEnvironment;
  try {
    started = await env.up();
    await waitHealthy(opts.project, { timeoutMs: 180_000 });
  } catch (e) {
    const cs = await projectContainers(opts.project).catch(() => []);
    await cleanup({ projects: [opts.project], pattern: null, testcontainers: false });
    throw new Error(`test stack did not come up: ${(e as Error).message}\n${cs.map((c) => `${c.service}: ${c.status}`).join('\n')}`);
  }
  const cs = await projectContainers(opts.project);
  const ports = (svc: string) => cs.find((c) => c.service === svc)?.ports ?? '';
  const info: StackInfo = {
    project: opts.project,
    smtpPort: mapped(ports('mx'), 25),
    submissionPort: mapped(ports('mx'), 587),
    policyPort: mapped(ports('policyd'), 10023),
    spamdPort: mapped(ports('spamassassin'), 783),
    user: USER,
    password: PASSWORD,
    domain: 'moat.test',
    configDir,
  };
  project.provide('stack', info);
  console.log(`e2e: images ${Math.round((t1 - t0) / 1000)} s, stack healthy ${Math.round((Date.now() - t1) / 1000)} s; mx 127.0.0.1:${info.smtpPort}`);
  return async () => {
    if (process.env.MOAT_E2E_KEEP) return;
    await started.down({ removeVolumes: true, timeout: 20_000 }).catch(() => undefined);
    await cleanup({ projects: [opts.project], pattern: null, testcontainers: false });
  };
}
