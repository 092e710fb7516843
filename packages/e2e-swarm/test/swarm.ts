// What the swarm tests know about the running swarm (the three engines, the stack's deploy environment) and
// how they look into it: tasks and their containers per node, SMTP at each node's own address, the mailstore.
// Trusts the engines and registry scripts/swarm.mjs started; talks only to the test bridge's addresses.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freshSender as freshSenderAs, mailstore, REDIS_CLI, type SmtpOutcome, smtpTransaction, taggedMessage } from '@moat/testkit';
import { inject } from 'vitest';
import type { SwarmNode } from '../../../scripts/swarm.mjs';

const run = promisify(execFile);

export const STACK = 'moat';
export const MX = ['mx1', 'mx2', 'mx3'] as const;
export type MxName = (typeof MX)[number];

export interface SwarmInfo {
  nodes: SwarmNode[];
  registry: string;
  /** A second client address on the host side of the bridge. */
  client2: string;
  /** The bridge address the host's own connections come from. */
  client1: string;
  /** `docker stack deploy` as the suite ran it: files (relative to compose/) and environment. */
  deploy: { dir: string; files: string[]; env: Record<string, string> };
  /** Where the stack's secrets were written (MOAT_SECRETS). */
  secrets: string;
  greylistDelayMs: number;
  /** The overlay the stack runs on (plain; see stack.test.yml), and its subnet. */
  overlay: { name: string; subnet: string };
  /** Figures the setup measured (seconds). */
  timings: Record<string, number>;
  /** What this kernel lacks to run the swarm (scripts/swarm.mjs kernelLacks): the suite is skipped, saying so. */
  lacks?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    swarm: SwarmInfo;
  }
}

/** The swarm's facts: provided to the tests; the global setup sets them here before it provides them. */
export const swarm = (): SwarmInfo => (globalThis as { __moatSwarm?: SwarmInfo }).__moatSwarm ?? inject('swarm');
export const node = (name: MxName): SwarmNode => {
  const n = swarm().nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};

/** docker against one node's engine (every node is a manager, so any answers for the swarm). */
export async function dockerAt(name: MxName, ...args: string[]): Promise<string> {
  const { stdout } = await run('docker', ['-H', node(name).host, ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

/** A manager that answers (mx1 may be the node the test stopped). */
export async function manager(): Promise<MxName> {
  for (const n of MX) if (await dockerAt(n, 'info', '--format', '{{.Swarm.ControlAvailable}}').then((o) => o.trim() === 'true', () => false)) return n;
  throw new Error('no swarm manager answers');
}

/** The running container of a stack service on a node (its task's container), or undefined. */
export async function containerOn(name: MxName, service: string): Promise<string | undefined> {
  const out = await dockerAt(name, 'ps', '-q', '--filter', `label=com.docker.swarm.service.name=${STACK}_${service}`, '--filter', 'status=running');
  return out.split('\n')[0]?.trim() || undefined;
}

/** The node a pinned service lives on (its moat.node label), for services the stack pins. */
export function homeOf(service: string): MxName {
  if (/^mx[123]$/.test(service)) return service as MxName;
  const home: Record<string, MxName> = { 'redis-a': 'mx1', 'redis-b': 'mx2', 'sentinel-1': 'mx1', 'sentinel-2': 'mx2', 'sentinel-3': 'mx3' };
  const n = home[service];
  if (!n) throw new Error(`${service} is not pinned to a node`);
  return n;
}

export async function execIn(service: string, ...cmd: string[]): Promise<string> {
  const n = homeOf(service);
  const c = await containerOn(n, service);
  if (!c) throw new Error(`no running container of ${service} on ${n}`);
  return dockerAt(n, 'exec', c, ...cmd);
}

/** redis-cli in a Redis or Sentinel container, logged in with the redis_password secret. */
export function redisCli(service: string, ...args: string[]): Promise<string> {
  return execIn(service, 'sh', '-c', ...REDIS_CLI, ...args);
}

/** The Redis service the Sentinels name as master, asked of every Sentinel that answers. */
export async function sentinelMaster(skip: MxName[] = []): Promise<string> {
  for (const s of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
    if (skip.includes(homeOf(s))) continue;
    const out = await redisCli(s, '-p', '26379', 'sentinel', 'get-master-addr-by-name', 'moat').catch(() => '');
    const host = out.split('\n')[0]?.trim();
    if (host) return host;
  }
  throw new Error('no Sentinel answered');
}

/** Replicas per service (`docker service ls`: running/desired). */
export async function serviceReplicas(): Promise<Map<string, string>> {
  const out = await dockerAt(await manager(), 'service', 'ls', '--filter', `label=com.docker.stack.namespace=${STACK}`, '--format', '{{.Name}} {{.Replicas}}');
  return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** The stack's containers on the nodes that answer: name, health. */
export async function stackContainers(nodes: readonly MxName[] = MX): Promise<Array<{ node: MxName; id: string; name: string; status: string }>> {
  const all = [];
  for (const n of nodes) {
    const out = await dockerAt(n, 'ps', '--filter', `label=com.docker.stack.namespace=${STACK}`, '--format', '{{.ID}}\t{{.Names}}\t{{.Status}}');
    for (const l of out.split('\n').filter(Boolean)) {
      const [id = '', name = '', status = ''] = l.split('\t');
      all.push({ node: n, id, name, status });
    }
  }
  return all;
}

/**
 * Waits until every service has all its replicas and every stack container on the given nodes is healthy.
 * `expect` sets the number of tasks wanted for global services (one per node that is up).
 */
export async function waitConverged({ nodes = MX, timeoutMs = 600_000 }: { nodes?: readonly MxName[]; timeoutMs?: number } = {}): Promise<number> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    try {
      const reps = await serviceReplicas();
      const cs = await stackContainers(nodes);
      const want = nodes.length === 3 ? 14 : undefined;
      const replicasOk = reps.size === 10 && [...reps.values()].every((r) => /^(\d+)\/\1\b/.test(r) || (nodes.length < 3 && /^\d+\/\d+/.test(r)));
      const healthy = cs.length > 0 && cs.every((c) => /\(healthy\)/.test(c.status)) && (want === undefined || cs.length === want);
      if (replicasOk && healthy) return (Date.now() - t0) / 1000;
      last = `${[...reps].map(([k, v]) => `${k} ${v}`).join(', ')} | ${cs.filter((c) => !/\(healthy\)/.test(c.status)).map((c) => `${c.node}:${c.name.split('.')[0]} ${c.status}`).join(', ')}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`stack not converged in ${timeoutMs} ms: ${last}`);
    await sleep(2000);
  }
}

/** mx1's mailstore (@moat/testkit mailstore); a read while mx1's node is down counts as empty. */
const store = mailstore((...cmd) => execIn('mx1', ...cmd));
export const mailstoreTags = (): Promise<Map<string, number>> => store.tags();
export const mailstoreMessage = (tag: string): Promise<string> => store.message(tag);
export const waitDelivered = (tags: readonly string[], timeoutMs = 180_000): Promise<Map<string, number>> =>
  store.waitDelivered(tags, { timeoutMs, pollMs: 2000, retryErrors: true, listMissing: 20 });

export const freshSender = (): string => freshSenderAs('swarm');
export { freshTag } from '@moat/testkit';

export function message({ from, to, tag }: { from: string; to: string; tag: string }): string {
  return taggedMessage({ from, to, tag, subject: `swarm ${tag}`, idDomain: 'e2e-swarm.moat.test', body: ['Hello from the moat swarm suite.'] });
}

/** One transaction at a node's own address, port 25 (host mode), from the host's bridge address. */
export function sendAt(name: MxName, o: { from: string; to?: string; tag: string; timeoutMs?: number }): Promise<SmtpOutcome> {
  const to = o.to ?? 'alice@moat.test';
  return smtpTransaction({ host: node(name).ip, port: 25, helo: 'mail.sender.example', from: o.from, to, message: message({ from: o.from, to, tag: o.tag }), timeoutMs: o.timeoutMs ?? 30_000 });
}

/** Greeting, EHLO, MAIL, RCPT from a chosen local address; the RCPT reply line (the greylist answers there). */
export function rcptFrom(name: MxName, localAddress: string, from: string, to = 'alice@moat.test'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: node(name).ip, port: 25, localAddress });
    const script = ['EHLO mail.sender.example', `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, 'QUIT'];
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => s.destroy(new Error(`timeout: ${buf}`)), 30_000);
    s.on('data', (d) => {
      buf += d.toString();
      // a reply is complete at a line "NNN text" (no dash); send the next command then
      const lines = buf.split('\r\n');
      const done = lines.filter((l) => /^\d{3} /.test(l)).length;
      if (done > step) {
        if (step === 3) {
          clearTimeout(timer);
          s.end();
          resolve(lines.filter((l) => /^\d{3} /.test(l))[3] ?? '');
          return;
        }
        s.write(`${script[step]}\r\n`);
        step++;
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A service's log lines on its node since a time (JSON, one per decision). */
export async function logsSince(service: string, since: Date): Promise<string[]> {
  const n = homeOf(service);
  const c = await containerOn(n, service);
  if (!c) return [];
  const { stdout, stderr } = await run('docker', ['-H', node(n).host, 'logs', '--since', since.toISOString(), c], { maxBuffer: 64 << 20 });
  return `${stdout}\n${stderr}`.split('\n').filter(Boolean);
}

/**
 * A service's log lines since a time, once `done` holds for them (or, after `ms`, as they are): the MX batches its
 * log lines (written every 200 ms), so a line may reach `docker logs` a moment after the event it tells of.
 */
export async function logsUntil(service: string, since: Date, done: (lines: string[]) => boolean, ms = 15_000): Promise<string[]> {
  for (const until = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 250))) {
    const lines = await logsSince(service, since);
    if (done(lines) || Date.now() >= until) return lines;
  }
}
