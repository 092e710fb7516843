// Benchmark: moat policyd vs Debian's postgrey on the same Postfix policy workload, in the same run.
// Greylist-only profile; loopback only (Redis, Unbound refusing everything, both policy servers). Bounded.
//   npm exec -- node bench/policyd.ts [--requests 30000] [--requests1 10000]
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { freePort, startRedis, startUnbound, tmpDir, waitForPort } from '@moat/testkit';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const loadgen = process.env.MOAT_POLICY_LOAD ?? '/work/shared/bench/policy-load.mjs';
const { values } = parseArgs({
  options: { requests: { type: 'string', default: '30000' }, requests1: { type: 'string', default: '10000' }, delay: { type: 'string', default: '60' } },
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

async function load(port: number, conns: number, requests: number): Promise<Load> {
  const { stdout } = await run(process.execPath, [loadgen, `127.0.0.1:${port}`, '--conns', String(conns), '--requests', String(requests), '--repeat', '0.5', '--seed', String(conns)], {
    timeout: 300_000,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Load;
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
// Greylist SPF pool matching asks the resolver: give it one that refuses everything (no query leaves the host).
const unbound = await startUnbound({ stubZones: {} });
const children: ChildProcess[] = [];
try {
  // moat policyd: the documented command, greylist-only profile, logs at info to a file (one line per decision).
  const moatPort = await freePort();
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
  delay: ${values.delay}s
  auto_whitelist_count: 5
policyd:
  max_connections: 200
`,
  );
  const moatLog = await open(join(dir.path, 'policyd.log'), 'w');
  const moat = spawn(process.execPath, [join(root, 'apps/policyd/src/main.ts'), '--config', configFile, '--listen', `127.0.0.1:${moatPort}`, '--metrics', 'off'], {
    stdio: ['ignore', moatLog.fd, moatLog.fd],
  });
  children.push(moat);
  await waitForPort(moatPort, '127.0.0.1', 20_000);

  // postgrey: a private process on a loopback port with its own db dir; it drops to the postgrey user.
  const pgPort = await freePort();
  const dbdir = join(dir.path, 'postgrey-db');
  await mkdir(dbdir);
  await chown(dbdir, Number((await run('id', ['-u', 'postgrey'])).stdout), Number((await run('id', ['-g', 'postgrey'])).stdout));
  const pg = spawn('postgrey', [`--inet=127.0.0.1:${pgPort}`, `--dbdir=${dbdir}`, `--delay=${values.delay}`, '--auto-whitelist-clients=5', '--hostname=mx.moat.test'], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.push(pg);
  await waitForPort(pgPort, '127.0.0.1', 20_000);

  const servers = [
    { name: 'moat policyd', port: moatPort },
    { name: 'postgrey', port: pgPort },
  ];
  const rows: Array<{ server: string } & Load> = [];
  for (const [conns, requests] of [
    [1, Number(values.requests1)],
    [32, Number(values.requests)],
  ] as const) {
    // Warm up both (JIT, DB files), then measure the same seeded workload on each.
    for (const s of servers) await load(s.port, conns, 500);
    for (const s of servers) rows.push({ server: s.name, ...(await load(s.port, conns, requests)) });
  }

  const table = [
    '| server | conns | requests | req/s | p50 ms | p99 ms | errors | actions |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.server} | ${r.conns} | ${r.requests} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${Object.entries(r.actions)
          .map(([a, n]) => `${a} ${n}`)
          .join(', ')} |`,
    ),
  ];
  const ratio = (c: number) => {
    const m = rows.find((r) => r.server === 'moat policyd' && r.conns === c)!;
    const p = rows.find((r) => r.server === 'postgrey' && r.conns === c)!;
    return { c, x: m.rps / p.rps, moatP99: m.p99_ms, pgP99: p.p99_ms };
  };
  console.log(table.join('\n'));
  for (const { c, x, moatP99, pgP99 } of [ratio(1), ratio(32)]) {
    console.log(`conns=${c}: moat/postgrey throughput ${x.toFixed(1)}x; p99 moat ${moatP99} ms vs postgrey ${pgP99} ms`);
  }
  const r32 = ratio(32);
  console.log(`target (conns=32): >= 10x postgrey and p99 < 5 ms -> ${r32.x >= 10 && r32.moatP99 < 5 ? 'MET' : 'NOT MET'}`);
  await moatLog.close();
} finally {
  for (const c of children) await stop(c);
  await unbound.stop();
  await redis.stop();
  await dir.remove();
}
