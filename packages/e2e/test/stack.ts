// What the tests know about the running test stack, and how they stop and start its services for fault tests.
// Trusts the local Docker engine (scripts/docker.mjs); every address it hands out is on 127.0.0.1.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { composeCommand } from '../../../scripts/docker.mjs';
import { projectContainers, waitHealthy } from '../../../scripts/stack.mjs';

const run = promisify(execFile);

export interface StackInfo {
  project: string;
  smtpPort: number;
  submissionPort: number;
  policyPort: number;
  spamdPort: number;
  /** The AUTH user written to compose/secrets-test/auth/users for this run. */
  user: string;
  password: string;
  /** Local domain with known recipients (compose/config-test/moat.yaml). */
  domain: string;
  /** The config directory the stack mounts at /etc/moat/conf: a fresh copy of compose/config-test (compose/config-e2e). */
  configDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export const stack = (): StackInfo => inject('stack');

/** The container of a service (compose v1 and v2 name them differently; the labels are the same). */
export async function containerOf(service: string): Promise<string> {
  const c = (await projectContainers(stack().project)).find((x) => x.service === service);
  if (!c) throw new Error(`no container for service ${service}`);
  return c.name;
}

/**
 * The host port a service's container port is published on now. Ephemeral ports change when a container
 * is stopped and started (the fault tests do that), so look them up instead of caching them.
 */
export async function portOf(service: string, containerPort: number): Promise<number> {
  const c = (await projectContainers(stack().project)).find((x) => x.service === service);
  const m = c && new RegExp(`127\\.0\\.0\\.1:(\\d+)->${containerPort}/tcp`).exec(c.ports);
  if (!m) throw new Error(`${service}:${containerPort} is not published on 127.0.0.1 (${c?.ports ?? 'no container'})`);
  return Number(m[1]);
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout;
}

/** Runs a command inside a service's container. */
export async function execIn(service: string, ...cmd: string[]): Promise<string> {
  return docker('exec', await containerOf(service), ...cmd);
}

/**
 * A shell line in the redis container, logged in: the test Redis wants the redis_password secret
 * (docker-compose.test.yml), which redis-cli takes from REDISCLI_AUTH, never from its command line.
 */
export async function redisShell(script: string): Promise<string> {
  const login = 'if [ -r /run/secrets/redis_password ]; then REDISCLI_AUTH=$(cat /run/secrets/redis_password); export REDISCLI_AUTH; fi';
  return execIn('redis', 'sh', '-c', `${login}; ${script}`);
}

export async function stopService(service: string): Promise<void> {
  await docker('stop', '-t', '10', await containerOf(service));
}

/** Starts a stopped service again and waits until the whole stack is healthy. */
export async function startService(service: string): Promise<void> {
  await docker('start', await containerOf(service));
  await waitHealthy(stack().project, { timeoutMs: 180_000 });
}

export { composeCommand, projectContainers, waitHealthy };

const used = new Set<string>();
/**
 * A client address in a /24 no other test uses (198.18.0.0/15, the benchmarking range): greylist triplets
 * group clients by /24, so each test gets its own network. Pair it with freshSender() for certainty.
 */
export function freshClientIp(): string {
  for (;;) {
    const k = randomInt(512);
    const ip = `198.${18 + (k >> 8)}.${k & 255}.${randomInt(10, 250)}`;
    const net = ip.split('.').slice(0, 3).join('.');
    if (!used.has(net)) {
      used.add(net);
      return ip;
    }
  }
}

/** A sender address no earlier test used (letters only, so greylist normalisation keeps it distinct). */
export function freshSender(domain = 'sender.example'): string {
  const letters = Array.from({ length: 10 }, () => String.fromCharCode(97 + randomInt(26))).join('');
  return `e2e.${letters}@${domain}`;
}
