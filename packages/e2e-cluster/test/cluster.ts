// What the cluster tests know about the running cluster (project, each node's SMTP port) and how they
// stop, start and look into its containers. Trusts the local Docker engine; every port is on 127.0.0.1.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { authPlain, freshSender as freshSenderAs, freshTag, mailstore, REDIS_CLI, SmtpClient, type SmtpOutcome, smtpTransaction, taggedMessage } from '@moat/testkit';
import { inject } from 'vitest';
import { compose, projectContainers } from '../../../scripts/stack.mjs';

const run = promisify(execFile);

export const NODES = ['mx1', 'mx2', 'mx3'] as const;
export type MxNode = (typeof NODES)[number];
export const REDIS = ['redis-a', 'redis-b'] as const;
export const SENTINELS = ['sentinel-1', 'sentinel-2', 'sentinel-3'] as const;

export interface ClusterInfo {
  project: string;
  /** The compose files (relative to compose/) and the interpolation environment the cluster was started with. */
  compose: { files: string[]; env: Record<string, string> };
  /** The published SMTP port of each node on 127.0.0.1 (fixed for the run, so restarts keep it). */
  ports: Record<MxNode, number>;
  /** The cluster network's first three octets (cluster/test.env MOAT_NET). */
  net: string;
  domain: string;
  /** The test greylist delay (cluster/config-test/moat.yaml), ms. */
  greylistDelayMs: number;
  /** The AUTH login every node knows (compose/secrets-test/auth/users) and its password. */
  user: string;
  password: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export const cluster = (): ClusterInfo => inject('cluster');
export const portOf = (node: MxNode): number => cluster().ports[node];

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout;
}

/** The container of a service (compose v1 and v2 name them differently; the labels are the same). */
export async function containerOf(service: string): Promise<string> {
  const c = (await projectContainers(cluster().project)).find((x) => x.service === service);
  if (!c) throw new Error(`no container for service ${service}`);
  return c.name;
}

export async function execIn(service: string, ...cmd: string[]): Promise<string> {
  return docker('exec', await containerOf(service), ...cmd);
}

/** redis-cli in a Redis or Sentinel container, logged in with the cluster's password (the redis_password secret). */
export async function redisCli(service: string, ...args: string[]): Promise<string> {
  return execIn(service, 'sh', '-c', ...REDIS_CLI, ...args);
}

/** `docker stop` (SIGTERM, then SIGKILL after `graceS`): what an operator or an upgrade does. */
export async function stopService(service: string, graceS = 10): Promise<void> {
  await docker('stop', '-t', String(graceS), await containerOf(service));
}

/** `docker kill` (SIGKILL, no goodbye): a crash. Compose's restart policy leaves a killed container down. */
export async function killService(service: string): Promise<void> {
  await docker('kill', await containerOf(service));
}

export async function startService(service: string): Promise<void> {
  await docker('start', await containerOf(service));
  await waitHealthy([service]);
}

/**
 * Upgrades one mx node the way docs/rollout.md does on one host: the node's container is replaced by
 * one from another image tag (`compose up -d --no-deps`: stop, remove, create, start; its queue volume
 * stays), then waited for until healthy. The "new" tag is the same image under another name.
 */
export async function upgradeNode(node: MxNode, tag: string): Promise<void> {
  const { files, env } = cluster().compose;
  await docker('tag', `moat/mx:${env.MOAT_TAG ?? 'dev'}`, `moat/mx:${tag}`);
  await compose({ project: cluster().project, files, env: { ...env, MOAT_TAG: tag } }, ['up', '-d', '--no-deps', node], { quiet: true });
  await waitHealthy([node]);
}

/** The image a service's container runs. */
export async function imageOf(service: string): Promise<string> {
  return (await docker('inspect', '-f', '{{.Config.Image}}', await containerOf(service))).trim();
}

/** Waits until the given services (default: all) run and are healthy. */
export async function waitHealthy(services?: readonly string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const cs = (await projectContainers(cluster().project)).filter((c) => !services || services.includes(c.service));
    if (cs.length > 0 && cs.every((c) => c.state === 'running' && c.health === 'healthy')) return;
    last = cs.map((c) => `${c.service}: ${c.status}`).join(', ');
    if (Date.now() > deadline) throw new Error(`not healthy within ${timeoutMs} ms: ${last}`);
    await sleep(500);
  }
}

/** The master the Sentinels currently name (a service name: they announce host names), asked of every Sentinel that answers. */
export async function sentinelMaster(): Promise<string> {
  for (const s of SENTINELS) {
    const out = await redisCli(s, '-p', '26379', 'sentinel', 'get-master-addr-by-name', 'moat').catch(() => '');
    const ip = out.split('\n')[0]?.trim();
    if (ip) return ip;
  }
  throw new Error('no Sentinel answered');
}

/** The compose service the Sentinels named (by name, or by its fixed address: redis-a .81, redis-b .82). */
export function redisServiceAt(master: string): (typeof REDIS)[number] {
  if (master === 'redis-a' || master === `${cluster().net}.81`) return 'redis-a';
  if (master === 'redis-b' || master === `${cluster().net}.82`) return 'redis-b';
  throw new Error(`unknown Redis master ${master}`);
}

export async function redisRole(service: string): Promise<string> {
  const out = await redisCli(service, 'info', 'replication');
  return /role:(\w+)/.exec(out)?.[1] ?? 'unknown';
}

/** The mailstore: mx1's maildir volume (@moat/testkit mailstore). */
const store = mailstore((...cmd) => execIn('mx1', ...cmd));

/** How many copies of each X-Moat-Tag the mailstore holds. */
export const mailstoreTags = (): Promise<Map<string, number>> => store.tags();

/** The text of the mailstore's copy of a message (the first, if there are several). */
export const mailstoreMessage = (tag: string): Promise<string> => store.message(tag);

/** Waits until every tag is in the mailstore; returns the counts then. */
export const waitDelivered = (tags: readonly string[], timeoutMs = 90_000): Promise<Map<string, number>> => store.waitDelivered(tags, { timeoutMs, pollMs: 1000 });

/** Messages in a node's queue (incoming, active, deferred; not hold or corrupt). */
export async function queued(node: MxNode): Promise<number> {
  const out = await execIn(node, 'sh', '-c', "find /var/spool/moat/incoming /var/spool/moat/active /var/spool/moat/deferred -type f ! -name '.*' | wc -l");
  return Number(out.trim());
}

export async function waitQueuesEmpty(nodes: readonly MxNode[] = NODES, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(nodes.map(queued));
    if (counts.every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`queues not empty after ${timeoutMs} ms: ${nodes.map((n, i) => `${n}=${counts[i]}`).join(' ')}`);
    await sleep(1000);
  }
}

/** A node's log lines (JSON, one per decision or delivery) since a time. */
export async function logsSince(service: string, since: Date): Promise<string[]> {
  const { stdout, stderr } = await run('docker', ['logs', '--since', since.toISOString(), await containerOf(service)], { maxBuffer: 64 << 20 });
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

const usedNets = new Set<string>();
/**
 * A client address in a /24 no other test used (198.18.0.0/15, the benchmarking range): the greylist
 * groups clients by /24, so each test gets its own network.
 */
export function freshClientIp(): string {
  for (;;) {
    const k = randomInt(512);
    const net = `198.${18 + (k >> 8)}.${k & 255}`;
    if (!usedNets.has(net)) {
      usedNets.add(net);
      return `${net}.${randomInt(10, 250)}`;
    }
  }
}

/** A sender no earlier test used (letters only, so greylist normalisation keeps it distinct). */
export const freshSender = (domain = 'sender.example'): string => freshSenderAs('cluster', domain);

export { freshTag } from '@moat/testkit';

/**
 * On the test DNS whitelist wl2.moat.test (compose/rbldnsd/zones/wl2): skips greylisting, as a verified
 * sending server does (seed step 9), so load tests are not held up by the delay.
 */
export const WL2_CLIENT = '192.0.2.99';

/** A small message; `tag` goes into X-Moat-Tag so the test can count its copies in the mailstore. */
export function message({ from, to, tag, subject = 'cluster' }: { from: string; to: string; tag: string; subject?: string }): string {
  return taggedMessage({ from, to, tag, subject: `${subject} ${tag}`, idDomain: 'e2e-cluster.moat.test', body: ['Hello from the moat cluster suite.', 'Regards,', 'E2E'] });
}

/**
 * One transaction at a node as a sending MTA at `clientIp` (XCLIENT, trusted from the test network only).
 * Never throws: where it stopped and why is the outcome (a lost connection after DATA's 354 is ambiguous).
 */
export function sendAt(node: MxNode, o: { clientIp: string; from: string; to?: string; tag: string; timeoutMs?: number }): Promise<SmtpOutcome> {
  const to = o.to ?? `alice@${cluster().domain}`;
  return smtpTransaction({
    port: portOf(node),
    xclient: `ADDR=${o.clientIp} NAME=[UNAVAILABLE]`,
    xclientHelo: 'e2e-cluster.moat.test',
    helo: 'mail.sender.example',
    from: o.from,
    to,
    message: message({ from: o.from, to, tag: o.tag }),
    timeoutMs: o.timeoutMs,
  });
}

/**
 * A session at a node ready for AUTH: EHLO, [XCLIENT as `clientIp`, EHLO,] STARTTLS, EHLO. Without
 * `clientIp` the client is the Docker gateway the published port hands connections over from.
 */
export async function tlsSession(node: MxNode, clientIp?: string): Promise<SmtpClient> {
  const c = await SmtpClient.connect(portOf(node), { timeoutMs: 30_000 });
  const step = async (line: string, code: number) => {
    const r = await c.cmd(line);
    if (r.code !== code) throw new Error(`${node}: ${line} got ${r.code} ${r.text}\n${c.transcript.join('\n')}`);
  };
  const greeting = await c.read();
  if (greeting.code !== 220) throw new Error(`${node}: greeting ${greeting.code} ${greeting.text}`);
  await step('EHLO e2e-cluster.moat.test', 250);
  if (clientIp !== undefined) {
    await step(`XCLIENT ADDR=${clientIp} NAME=[UNAVAILABLE]`, 220);
    await step('EHLO e2e-cluster.moat.test', 250);
  }
  await c.starttls({ servername: 'mx.moat.test' });
  await step('EHLO laptop.sender.example', 250);
  return c;
}

/** AUTH PLAIN in a session from tlsSession; the reply (235, 535, 454 ...). */
export function authenticate(c: SmtpClient, user = cluster().user, password = cluster().password) {
  return c.cmd(`AUTH PLAIN ${authPlain(user, password)}`);
}

/** `moat ARGS` (apps/cli) inside a node's container, on its spool and config. */
export function moatCli(node: MxNode, ...args: string[]): Promise<string> {
  return execIn(node, 'node', '/usr/local/lib/moat/cli/main.js', ...args);
}

/** The envelopes (queue file JSON, packages/queue record.ts) of the messages in a node's queue, any state. */
export async function queuedEnvelopes(node: MxNode): Promise<QueueEnvelope[]> {
  // a file may move between states while this reads: what cannot be read now is left out
  const out = await execIn(node, 'sh', '-c', "for f in $(find /var/spool/moat/incoming /var/spool/moat/active /var/spool/moat/deferred /var/spool/moat/hold -type f ! -name '.*'); do sed -n 2p \"$f\" 2>/dev/null; echo; done");
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as QueueEnvelope];
      } catch {
        return [];
      }
    });
}

export interface QueueEnvelope {
  id: string;
  sender: string;
  attempts: number;
  recipients: { address: string; state: string; class?: string; lastError?: string; nextHop?: { transport: string; host?: string; port?: number; mx?: boolean; raw?: string } }[];
}

/**
 * Removes messages from a node's queue (`moat queue delete`). A message being delivered cannot be deleted,
 * and one whose next hop is away is tried every few seconds (test retry times), so the loop runs inside the
 * container and tries again at once until the CLI deletes it or no longer finds it.
 */
export async function deleteQueued(node: MxNode, ids: readonly string[], timeoutS = 120): Promise<void> {
  const script = `
    end=$(( $(date +%s) + ${timeoutS} ))
    for id in "$@"; do
      until out=$(node /usr/local/lib/moat/cli/main.js queue --dir /var/spool/moat delete "$id" 2>&1); echo "$out" | grep -Eq 'deleted 1|not found'; do
        [ "$(date +%s)" -lt "$end" ] || { echo "could not delete $id: $out"; exit 1; }
        sleep 0.2
      done
    done`;
  await execIn(node, 'sh', '-c', script, 'delete-queued', ...ids);
}

/** A node's Prometheus metrics, read inside its container (the metrics listener, :9465). */
export async function metricsOf(node: MxNode): Promise<string> {
  return execIn(node, 'node', '-e', "fetch('http://127.0.0.1:9465/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))");
}

/** The sum of a metric's samples whose labels contain `labels` (e.g. `result="ok"`). */
export function metricValue(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * After a Redis failover: waits until every node's Redis clients work on the master the Sentinels name
 * now, each proved by a write through it: a new triplet greylisted (the greylist store answered), the
 * decision journal's successful appends growing, and the rate limiter's store up. Returns how long it took.
 */
export async function waitNodesFollowMaster(timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  const pending = new Set<MxNode>(NODES);
  let last = '';
  while (pending.size > 0) {
    for (const node of [...pending]) {
      const before = await metricsOf(node).catch(() => '');
      const r = await sendAt(node, { clientIp: freshClientIp(), from: freshSender(), tag: freshTag('follow'), timeoutMs: 15_000 });
      const after = await metricsOf(node).catch(() => '');
      const greylisted = r.stage === 'rcpt' && r.code === 450;
      const journaled =
        !after.includes('moat_journal_writes_total') || metricValue(after, 'moat_journal_writes_total', 'result="ok"') > metricValue(before, 'moat_journal_writes_total', 'result="ok"');
      const limiter = metricValue(after, 'moat_ratelimit_store_up') === 1;
      if (greylisted && journaled && limiter) pending.delete(node);
      else last = `${node}: ${r.stage}/${r.code}, journal ${journaled ? 'ok' : 'no new append'}, rate limiter ${limiter ? 'up' : 'down'}`;
    }
    if (pending.size === 0) break;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nodes did not follow the Redis master within ${timeoutMs} ms (${last})`);
    await sleep(1000);
  }
  return Date.now() - t0;
}
