// Benchmark: moat policyd vs Debian's postgrey on the same Postfix policy workload, in the same run.
// Greylist-only profile; loopback only (Redis, Unbound refusing everything, the policy servers). Bounded.
// Beside them the floor (bench/floor-server.ts): what any policy server must at least do on this machine.
//   npm exec -- node bench/policyd.ts [--rounds 3] [--requests 20000] [--requests1 5000] [--workers 1,2] [--profile DIR]
//     [--no-postgrey] (moat and the floor only) [--no-breakdown] [--compare OLD-TREE] (moat from another checkout too)  [--requests1 0] (skip the 1-connection level)
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, chown, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { parseConfig, testConfig, views } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import type { Facts } from '@moat/policy';
import { buildEngine } from '@moat/runtime';
import { freePort, startRedis, startUnbound, tmpDir, waitForPort } from '@moat/testkit';
import { bufferedStdout } from '@moat/observe';
import { createPolicyServer } from '../apps/policyd/src/server.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const loadgen = process.env.MOAT_POLICY_LOAD ?? '/work/shared/bench/policy-load.mjs';
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    requests1: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '2' },
    delay: { type: 'string', default: '3600' },
    /** moat policyd configurations to run beside postgrey: worker process counts (1 = one process). */
    workers: { type: 'string', default: '1,2' },
    /** Write a V8 CPU profile of each moat policyd process into this directory, the floors' into DIR/floor (node --cpu-prof). */
    profile: { type: 'string' },
    /** Run postgrey beside moat (the slowest server: most of a run's time). */
    postgrey: { type: 'boolean', default: true },
    /** Also run moat policyd from another checkout (an A/B in the same rounds): `--compare /path/to/old/tree`. */
    compare: { type: 'string' },
    /** The in-process rows after the table (protocol layer alone, engine alone). */
    breakdown: { type: 'boolean', default: true },
  },
  allowNegative: true,
});

interface Load {
  conns: number;
  requests: number;
  secs: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  actions: Record<string, number>;
  errors: number;
}

async function load(port: number, conns: number, requests: number, seed: number): Promise<Load> {
  const { stdout } = await run(process.execPath, [loadgen, `127.0.0.1:${port}`, '--conns', String(conns), '--requests', String(requests), '--repeat', '0.5', '--seed', String(seed)], {
    timeout: 300_000,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Load;
}

async function protocolOnly(logFile: string, requests: number) {
  const out = await open(logFile, 'w');
  const server = createPolicyServer({
    engine: {
      evaluate: async (f: Facts) => ({
        action: 'defer' as const,
        status: '4.7.1',
        text: `<${f.recipient}>: Recipient address rejected: Greylisted, please try again in 3600 seconds`,
        greylisted: true,
        decidedBy: 'check_policy_service',
        prepend: [],
        trace: [],
      }),
    },
    settings: { ...views.policyd(testConfig({ policyd: { max_connections: 200 } })), clients: undefined },
    logger: createLogger('policyd', { destination: bufferedStdout({ fd: out.fd }) as unknown as NodeJS.WritableStream }),
    registry: createRegistry(),
    replyCode: () => 450,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  await load(port, 32, 5000, 999); // JIT warm-up
  const c0 = process.cpuUsage();
  const r = await load(port, 32, requests, 7);
  const c = process.cpuUsage(c0);
  await server.close(100);
  await out.close();
  return { ...r, cpuUs: Math.round((c.user + c.system) / r.requests) };
}

async function engineOnly(configFile: string, requests: number) {
  const config = parseConfig(await readFile(configFile, 'utf8'), { file: configFile, env: {} });
  const built = await buildEngine(config, { registry: createRegistry(), logger: createLogger('bench', { level: 'silent' }) });
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const facts = (i: number): Facts => ({
    stage: 'rcpt',
    clientAddress: `198.51.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`,
    helo: `mail${i % 97}.sender.example`,
    sender: `user${Math.floor(rnd() * 1e6)}@sender${Math.floor(rnd() * 5000)}.example`,
    recipient: `rcpt${Math.floor(rnd() * 200)}@example.org`,
    tls: false,
  });
  let i = 0;
  const pass = async (n: number) => {
    i = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (i < n) await built.engine.evaluate(facts(i++));
      }),
    );
  };
  await pass(5000); // JIT warm-up, Redis script cache
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await pass(requests);
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  await built.close();
  return { rps: Math.round(requests / secs), cpuUs: Math.round((c.user + c.system) / requests) };
}

/** The direct children of a process (a policyd primary's workers), from /proc (Linux). */
async function childPids(pid: number | undefined): Promise<number[]> {
  if (!pid) return [];
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(' ').filter(Boolean).map(Number);
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** A UDP relay in front of Unbound counting the questions that reach it (moat's DNS cache misses, per round). */
async function countingRelay(target: number): Promise<{ server: string; count: () => number; close: () => void }> {
  const front = createSocket('udp4');
  const up = createSocket('udp4');
  // upstream id -> the client's own id and address (ids rewritten, so two clients' equal ids never collide)
  const back = new Map<number, { id: number; port: number; address: string }>();
  let n = 0;
  front.on('message', (msg, rinfo) => {
    const upId = n++ & 0xffff;
    back.set(upId, { id: msg.readUInt16BE(0), port: rinfo.port, address: rinfo.address });
    msg.writeUInt16BE(upId, 0);
    up.send(msg, target, '127.0.0.1');
  });
  up.on('message', (msg) => {
    const to = back.get(msg.readUInt16BE(0));
    if (!to) return;
    back.delete(msg.readUInt16BE(0));
    msg.writeUInt16BE(to.id, 0);
    front.send(msg, to.port, to.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => up.bind(0, '127.0.0.1', r));
  return {
    server: `127.0.0.1:${front.address().port}`,
    count: () => n,
    close: () => {
      front.close();
      up.close();
    },
  };
}

/** Redis's counters: EVALSHA calls (round trips asked for), every command (a script's inner calls too), reads on its sockets. */
async function redisCounters(port: number): Promise<{ evalsha: number; commands: number; reads: number }> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'INFO', 'all']);
  const n = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? 0);
  return { evalsha: n(/^cmdstat_evalsha:calls=(\d+)/m), commands: n(/^total_commands_processed:(\d+)/m), reads: n(/^total_reads_processed:(\d+)/m) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

const dir = await tmpDir('bench-policyd');
await chmod(dir.path, 0o755); // postgrey drops to its own user and must reach its db dir
const redis = await startRedis();
// Greylist SPF pool matching asks the resolver for the sender domains' SPF: a local Unbound answers
// NXDOMAIN for the workload's *.example domains and refuses everything else, so no query leaves the host.
// The zone has an SOA (MINIMUM 300 s), as a real domain without SPF has: its negative answers say how long
// they may be kept (RFC 2308; before 2026-12-07 the bench's zone had none).
const unbound = await startUnbound({
  stubZones: {},
  localZones: { 'example.': 'static' },
  localData: ['example. 3600 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300'],
});
const dnsRelay = await countingRelay(unbound.port);
const children: ChildProcess[] = [];
try {
  // moat policyd: the documented command, greylist-only profile, logs at info to a file (one line per decision).
  const configFile = join(dir.path, 'moat.yaml');
  await writeFile(
    configFile,
    `version: 1
policy:
  hostname: mx.moat.test
  recipient_restrictions: check_policy_service inet:127.0.0.1:10023
recipients:
  domains: [example.org]
dns:
  resolver: ${dnsRelay.server}
greylist:
  redis: { url: "${redis.url}" }
  delay: ${values.delay}s
  auto_whitelist_count: 0
policyd:
  max_connections: 200
`,
  );
  const moatLog = await open(join(dir.path, 'policyd.log'), 'w');
  const moats: Array<{ name: string; port: number; pids: () => Promise<Array<number | undefined>> }> = [];
  const variants = [...values.workers.split(',').map((w) => ({ w: Number(w), tree: root, tag: '' })), ...(values.compare ? [{ w: 1, tree: values.compare, tag: ' (compare)' }] : [])];
  for (const { w, tree, tag } of variants) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      // the flag of main.ts's shebang (the image runs main.js by its shebang; `node file` ignores it)
      ['--max-semi-space-size=8', ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []), join(tree, 'apps/policyd/src/main.ts'), '--config', configFile, '--listen', `127.0.0.1:${port}`, '--metrics', 'off', '--workers', String(w)],
      { stdio: ['ignore', moatLog.fd, moatLog.fd] },
    );
    children.push(child);
    await waitForPort(port, '127.0.0.1', 20_000);
    // the primary and its workers, and redis-server (moat's store; postgrey's BerkeleyDB runs inside postgrey)
    moats.push({ name: `${w === 1 ? 'moat policyd' : `moat policyd ${w} workers`}${tag}`, port, pids: async () => [child.pid, ...(await childPids(child.pid)), redis.daemon().process.pid] });
  }

  // The floor: what any policy server must at least do here, with no parsing, engine, log or metrics
  // (bench/floor-server.ts): a constant answer, and a constant answer after moat's greylist script in Redis.
  const floors: typeof moats = [];
  for (const [name, w, withRedis] of [
    ['floor: constant answer', 1, false],
    ...values.workers.split(',').map(Number).map((w) => [`floor: one Redis script call${w === 1 ? '' : `, ${w} workers`}`, w, true] as const),
  ] as const) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}/floor`] : []), join(root, 'bench/floor-server.ts'), '--listen', `127.0.0.1:${port}`, '--workers', String(w), ...(withRedis ? ['--redis', redis.url] : [])],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(child);
    await waitForPort(port, '127.0.0.1', 20_000);
    floors.push({ name, port, pids: async () => [child.pid, ...(await childPids(child.pid)), ...(withRedis ? [redis.daemon().process.pid] : [])] });
  }

  // postgrey: a private process on a loopback port with its own db dir; it drops to the postgrey user.
  const pgServers: typeof moats = [];
  if (values.postgrey) {
  const pgPort = await freePort();
  const dbdir = join(dir.path, 'postgrey-db');
  await mkdir(dbdir);
  await chown(dbdir, Number((await run('id', ['-u', 'postgrey'])).stdout), Number((await run('id', ['-g', 'postgrey'])).stdout));
  const pg = spawn('postgrey', [`--inet=127.0.0.1:${pgPort}`, `--dbdir=${dbdir}`, `--delay=${values.delay}`, '--auto-whitelist-clients=0', '--hostname=mx.moat.test'], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.push(pg);
  await waitForPort(pgPort, '127.0.0.1', 20_000);
  pgServers.push({ name: 'postgrey', port: pgPort, pids: async () => [pg.pid] });
  }

  // CPU per request is measured too: unlike req/s it hardly depends on what else the machine runs.
  // moat's includes redis-server's (postgrey's store, BerkeleyDB, runs inside postgrey).
  const servers = [...moats, ...pgServers, ...floors];
  const cpu = async (pids: Array<number | undefined>) => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  // Same seeded workload on each server; rounds alternate between them so machine noise hits both alike.
  // Each round has its own seed; the delay (1 h) outlasts the whole run and auto-whitelisting is off in both.
  // The servers share one Redis: it is emptied before each server's run, or the second to get a seed would only
  // answer the triplets the first had stored (another branch of the script), and the order is reversed every
  // other round, so no server always runs first.
  const rows: Array<{ server: string; round: number; load1: number; cpuUs: number; storeUs: number; dnsQ: number; redisPerReq: string } & Load> = [];
  for (const [conns, requests] of [
    [1, Number(values.requests1)],
    [32, Number(values.requests)],
  ] as const) {
    if (requests === 0) continue;
    for (const s of servers) await load(s.port, conns, conns === 1 ? 1000 : 5000, 999); // warm-up: JIT (in every worker), DB files, Redis script cache
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const s of round % 2 === 1 ? servers : [...servers].reverse()) {
        await run('redis-cli', ['-p', String(redis.port), 'FLUSHALL']);
        const load1 = +loadavg()[0]!.toFixed(1);
        const pids = await s.pids();
        const store = s.name === 'postgrey' || s.name === 'floor: constant answer' ? [] : pids.slice(-1);
        const before = await cpu(pids);
        const storeBefore = await cpu(store);
        const q0 = dnsRelay.count();
        const r0 = store.length ? await redisCounters(redis.port) : undefined;
        const r = await load(s.port, conns, requests, conns * 100 + round);
        const dnsQ = dnsRelay.count() - q0;
        const r1 = r0 ? await redisCounters(redis.port) : undefined;
        // per request (the first INFO's own command and read taken off): pipelining shows as reads well under 1
        const per = (k: 'evalsha' | 'commands' | 'reads') => ((r1![k] - r0![k] - (k === 'evalsha' ? 0 : 1)) / r.requests).toFixed(2);
        const redisPerReq = r1 ? `${per('evalsha')} / ${per('commands')} / ${per('reads')}` : '-';
        const cpuUs = Math.round(((await cpu(pids)) - before) * 1e6 / r.requests);
        const storeUs = Math.round(((await cpu(store)) - storeBefore) * 1e6 / r.requests);
        rows.push({ server: s.name, round, load1, cpuUs, storeUs, dnsQ, redisPerReq, ...r });
      }
    }
  }

  const fmtActions = (a: Record<string, number>) =>
    Object.entries(a)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  console.log('| server | conns | round | requests | req/s | p50 ms | p99 ms | CPU µs/req | of which Redis | Redis per req: EVALSHA / all commands / reads | DNS questions | errors | load avg | actions |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows)
    console.log(
      `| ${r.server} | ${r.conns} | ${r.round} | ${r.requests} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.cpuUs} | ${r.storeUs || '-'} | ${r.redisPerReq} | ${r.dnsQ} | ${r.errors} | ${r.load1} | ${fmtActions(r.actions)} |`,
    );
  // Best round per server and level (the least disturbed by other load on the machine).
  const best = (server: string, c: number) =>
    rows.filter((r) => r.server === server && r.conns === c).sort((a, b) => b.rps - a.rps)[0]!;
  console.log('');
  const levels = [1, 32].filter((c) => rows.some((r) => r.conns === c));
  for (const m0 of moats) {
    if (!values.postgrey) break;
    for (const c of levels) {
      const m = best(m0.name, c);
      const p = best('postgrey', c);
      console.log(
        `${m0.name}, conns=${c}: ${m.rps} req/s (p99 ${m.p99_ms} ms, ${m.cpuUs} µs CPU/req) vs postgrey ${p.rps} req/s (p99 ${p.p99_ms} ms, ${p.cpuUs} µs CPU/req): ${(m.rps / p.rps).toFixed(1)}x throughput, ${(p.cpuUs / m.cpuUs).toFixed(1)}x less CPU`,
      );
    }
  }
  // The floor rows bound every policy server on this machine: moat cannot beat the one-Redis-call floor.
  for (const f of floors) {
    const x = best(f.name, 32);
    const p = values.postgrey ? `: ${(x.rps / best('postgrey', 32).rps).toFixed(1)}x postgrey` : '';
    console.log(`${f.name}, conns=32: ${x.rps} req/s (p99 ${x.p99_ms} ms, ${x.cpuUs} µs CPU/req)${p}`);
  }
  // Issue 21's target, round by round (the floor ran in the same round, same seed, from the same empty Redis):
  // moat >= 0.8x the one-Redis-call floor's req/s at 32 connections, p99 <= 5 ms; and the CPU ratio, steadier.
  for (const m0 of moats) {
    const base = m0.name.replace(' (compare)', '');
    const floorName = base === 'moat policyd' ? 'floor: one Redis script call' : `floor: one Redis script call, ${base.replace('moat policyd ', '')}`;
    for (const m of rows.filter((r) => r.server === m0.name && r.conns === 32)) {
      const f = rows.find((r) => r.server === floorName && r.conns === 32 && r.round === m.round);
      if (!f) continue;
      const x = m.rps / f.rps;
      console.log(
        `${m0.name} vs ${floorName}, round ${m.round}: ${x.toFixed(2)}x req/s (${m.rps} / ${f.rps}), CPU/req ${m.cpuUs} / ${f.cpuUs} µs (${(f.cpuUs / m.cpuUs).toFixed(2)}x), p99 ${m.p99_ms} ms, load ${m.load1}: target >= 0.8x and p99 <= 5 ms ${x >= 0.8 && m.p99_ms <= 5 ? 'MET' : 'NOT MET'}`,
      );
    }
  }

  // Where moat's time goes: the protocol layer alone (a constant verdict), and the engine with its Redis
  // greylist alone (in-process, 32 concurrent decisions, the load generator's triplet mix).
  if (values.breakdown) {
  const breakdown = await protocolOnly(join(dir.path, 'null.log'), Number(values.requests));
  console.log(`\nprotocol layer alone (null engine, in-process, 32 conns): ${breakdown.rps} req/s, p99 ${breakdown.p99_ms} ms, ${breakdown.cpuUs} µs CPU/req`);
  const eng = await engineOnly(configFile, Number(values.requests));
  console.log(`engine + Redis greylist alone (no sockets, 32 concurrent): ${eng.rps} decisions/s, ${eng.cpuUs} µs CPU/decision in node`);
  }
  await moatLog.close();
} finally {
  for (const c of children) await stop(c);
  dnsRelay.close();
  await unbound.stop();
  await redis.stop();
  await dir.remove();
}
