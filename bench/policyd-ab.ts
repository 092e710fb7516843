// policyd A/B in one run, for hot-path work: two policyd trees (or node flags) and the one-Redis-call floor, rounds
// alternating, with what bench/policyd.ts does not show: the policyd process's own CPU (Redis apart) and its syscalls.
// Loopback only (Redis, Unbound answering the bench's example. zone with an SOA, the servers); the greylist-only profile.
//   npm exec -- node bench/policyd-ab.ts --b TREE [--a TREE (default: this tree)] [--a-flags="--max-semi-space-size=8 --trace-gc"]
//     [--b-flags=...] [--rounds 3] [--requests 20000] [--conns 32] [--no-floor] [--profile DIR]
// Every server does the same work: Redis is emptied (FLUSHALL) before each server's run, so each starts from the
// same empty key space and answers the same seeded requests along the same Lua branches; the order of the servers
// is reversed every other round (A B floor, floor B A, ...). The trees' commits (and "+uncommitted") are printed.
// Per row: req/s, p50/p99, CPU µs per request of the server process alone and of redis-server, and (perf stat's
// syscall tracepoints, a count that does not depend on the machine's load) write/read/epoll syscalls per request.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { freePort, startRedis, startUnbound, tmpDir, waitForPort } from '@moat/testkit';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const loadgen = process.env.MOAT_POLICY_LOAD ?? '/work/shared/bench/policy-load.mjs';
const { values } = parseArgs({
  options: {
    a: { type: 'string', default: root },
    b: { type: 'string' },
    'a-flags': { type: 'string', default: '--max-semi-space-size=8' },
    'b-flags': { type: 'string', default: '--max-semi-space-size=8' },
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '20000' },
    conns: { type: 'string', default: '32' },
    floor: { type: 'boolean', default: true },
    profile: { type: 'string' },
  },
  allowNegative: true,
});

if (!values.b) {
  console.error('bench/policyd-ab: --b TREE is required (the policyd tree to compare against, e.g. a checkout of main)');
  process.exit(2);
}
const trees = { a: values.a, b: values.b };

const syscalls = ['write', 'writev', 'read', 'epoll_wait', 'epoll_pwait', 'sendto', 'recvfrom'];

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function load(port: number, requests: number, seed: number) {
  const { stdout } = await run(process.execPath, [loadgen, `127.0.0.1:${port}`, '--conns', values.conns, '--requests', String(requests), '--repeat', '0.5', '--seed', String(seed)], {
    timeout: 300_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { rps: number; p50_ms: number; p99_ms: number; requests: number; actions: Record<string, number> };
}

/** Syscalls of `pid` while `during` runs (perf stat on the syscall tracepoints). */
async function countSyscalls<T>(pid: number, during: () => Promise<T>): Promise<{ result: T; counts: Record<string, number> }> {
  const perf = spawn('perf', ['stat', '-x', ',', '-e', syscalls.map((s) => `syscalls:sys_enter_${s}`).join(','), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  perf.stderr!.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 300));
  const result = await during();
  perf.kill('SIGINT');
  await new Promise((r) => perf.once('exit', r));
  const counts: Record<string, number> = {};
  for (const l of out.trim().split('\n')) {
    const f = l.split(',');
    if (f[2]?.startsWith('syscalls:')) counts[f[2].replace('syscalls:sys_enter_', '')] = Number(f[0]) || 0;
  }
  return { result, counts };
}

const dir = await tmpDir('bench-policyd-ab');
const redis = await startRedis();
const unbound = await startUnbound({
  stubZones: {},
  localZones: { 'example.': 'static' },
  localData: ['example. 3600 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300'],
});
const redisCpu = async () => {
  const { stdout } = await run('redis-cli', ['-p', String(redis.port), 'INFO', 'cpu']);
  return Number(/used_cpu_sys:([\d.]+)/.exec(stdout)![1]) + Number(/used_cpu_user:([\d.]+)/.exec(stdout)![1]);
};
/** Each server's run starts from the same empty key space (the script cache is kept: FLUSHALL leaves it). */
const flushRedis = () => run('redis-cli', ['-p', String(redis.port), 'FLUSHALL']);
/** A tree's commit, marked when its work tree differs from it (a figure must name what was measured). */
async function commitOf(tree: string): Promise<string> {
  const { stdout: head } = await run('git', ['-C', tree, 'rev-parse', '--short', 'HEAD']);
  const { stdout: dirty } = await run('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no']);
  return `${head.trim()}${dirty.trim() ? '+uncommitted' : ''}`;
}
const children: ChildProcess[] = [];
try {
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
  resolver: ${unbound.server}
greylist:
  redis: { url: "${redis.url}" }
  delay: 3600s
  auto_whitelist_count: 0
policyd:
  max_connections: 200
`,
  );
  const servers: Array<{ name: string; port: number; pid: number; log?: string }> = [];
  for (const [name, tree, flags] of [
    ['A', trees.a, values['a-flags']],
    ['B', trees.b, values['b-flags']],
  ] as const) {
    const port = await freePort();
    const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(values.profile, name)}`] : [];
    const logFile = join(dir.path, `policyd-${name}.log`);
    const log = await open(logFile, 'w');
    const child = spawn(process.execPath, [...flags.split(' ').filter(Boolean), ...prof, join(tree, 'apps/policyd/src/main.ts'), '--config', configFile, '--listen', `127.0.0.1:${port}`, '--metrics', 'off', '--workers', '1'], {
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    children.push(child);
    await waitForPort(port, '127.0.0.1', 30_000);
    servers.push({ name: `${name} ${tree} @ ${await commitOf(tree)}${flags ? ` ${flags}` : ''}`, port, pid: child.pid!, log: logFile });
  }
  if (values.floor) {
    const port = await freePort();
    const child = spawn(process.execPath, [join(root, 'bench/floor-server.ts'), '--listen', `127.0.0.1:${port}`, '--redis', redis.url], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
    await waitForPort(port, '127.0.0.1', 30_000);
    servers.push({ name: 'floor: one Redis script call', port, pid: child.pid! });
  }
  for (const s of servers) {
    await flushRedis();
    await load(s.port, 5000, 999); // JIT, the SPF answers' cache, the Redis script cache
  }
  console.log(`${new Date().toISOString()}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  // with --trace-gc in a server's flags: its scavenges per 1,000 requests (a measure of allocation that does not depend on load)
  const scavenges = async (s: { log?: string }) => (s.log ? ((await readFile(s.log, 'utf8')).match(/Scavenge/g)?.length ?? 0) : 0);
  console.log('| server | round | req/s | p50 ms | p99 ms | CPU µs/req (process) | redis-server µs/req | syscalls per request | scavenges per 1,000 req | load |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|---:|---:|');
  const requests = Number(values.requests);
  for (let round = 1; round <= Number(values.rounds); round++) {
    // the order reversed every other round: no server always runs first, or after the same one
    for (const s of round % 2 === 1 ? servers : [...servers].reverse()) {
      await flushRedis();
      const load1 = loadavg()[0]!.toFixed(1);
      const g0 = await scavenges(s);
      const c0 = await cpuSeconds(s.pid);
      const r0 = await redisCpu();
      const { result: r, counts } = await countSyscalls(s.pid, () => load(s.port, requests, 100 + round));
      const cpuUs = Math.round(((await cpuSeconds(s.pid)) - c0) * 1e6 / r.requests);
      const redisUs = Math.round(((await redisCpu()) - r0) * 1e6 / r.requests);
      const sc = Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${(n / r.requests).toFixed(2)}`)
        .join(', ');
      const gc = s.log ? (((await scavenges(s)) - g0) * 1000 / r.requests).toFixed(1) : '-';
      console.log(`| ${s.name} | ${round} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${cpuUs} | ${redisUs} | ${sc} | ${gc} | ${load1} |`);
    }
  }
} finally {
  for (const c of children) {
    if (c.exitCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
  await unbound.stop();
  await redis.stop();
  await dir.remove();
}
