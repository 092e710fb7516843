// SMTP throughput of the moat MX against its anchors, side by side in one run, with the shared harness
// (../shared/bench/smtp: smtp-source, smtp-sink, Haraka, a private Postfix, Unbound + rbldnsd, redis).
// Talks only to 127.0.0.0/8: the harness's Unbound refuses everything but its test zones.
//
//   npm exec -- node bench/smtp.ts [--messages 2000] [--runs 3] [--spamd-messages 300] [--idle 1000]
//                                  [--targets "sink haraka-full postfix-full"] [--skip-anchors] [--out DIR]
//
// 1. builds apps/mx (dist/main.js), starts the harness's dns/redis/sink, a real spamd (loopback, -L)
//    and two MX processes: `mx` (spamd off) on 2600 and `mx-spamd` (spamd on) on 2601, both with the
//    bench policy: HELO checks, DNSWL wl.test, DNSBL bl.test, greylist in redis (delay 1 s, pre-passed
//    by the harness), loopback NOT exempted (mynetworks empty), queue (fsync) -> smtp://127.0.0.1:2526 (sink);
// 2. runs the harness's bench-all.sh with the anchors, the floor (bench/floor-mx.ts on 2603: smtp-server to an
//    fsynced file, forwarded to the sink, no checks) and `--extra mx=2600` (same run, same machine);
// 3. measures `mx-spamd` with the harness's run.sh (fewer messages: spamd scans each one);
// 4. opens N idle sessions (greeting + EHLO) to `mx` and reads its resident memory;
// 5. prints a table with ratios to Haraka full and Postfix full and writes docs/bench-smtp.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSpamd } from '@moat/testkit';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    'spamd-messages': { type: 'string', default: '300' },
    idle: { type: 'string', default: '1000' },
    targets: { type: 'string', default: 'sink haraka-full postfix-full' },
    'skip-anchors': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const HARNESS = process.env.SMTPBENCH_HARNESS ?? join(REPO, '..', 'shared', 'bench', 'smtp');
const ROOT = process.env.SMTPBENCH_DIR ?? '/tmp/smtpbench';
const WORK = join(ROOT, 'moat');
const OUT = values.out ?? join(ROOT, 'results', `moat-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const NODE = join(REPO, 'node_modules', '.bin', 'node');
const env = { ...process.env, SMTPBENCH_DIR: ROOT };
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'inherit'] }).toString();

/**
 * Run a harness script without blocking the event loop: spamd's log pipe is drained by this process,
 * and a blocked loop would fill it and stall spamd (it writes a line per scan).
 */
function run(cmd: string, args: string[], opts: { inherit?: boolean } = {}): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', opts.inherit ? 'inherit' : 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.on('close', (status) => resolve({ status, stdout }));
  });
}

function config(name: string, spamdPort: number | undefined): string {
  const dir = join(WORK, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'moat.yaml');
  writeFileSync(
    file,
    `version: 1
policy:
  hostname: mx.moat.example
  mynetworks: []
  recipient_restrictions: |
    reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, reject_non_fqdn_sender,
    reject_unlisted_recipient, permit_mynetworks, permit_sasl_authenticated,
    permit_dnswl_client wl.test, reject_rbl_client bl.test,
    check_policy_service moat:greylist, permit
recipients:
  domains: [example.org]
  catch_all: [example.org]
dns:
  resolver: 127.0.0.1:5353
greylist:
  redis: { url: "redis://127.0.0.1:6390/12" }
  delay: 1s
mx:
  tls: { state_dir: ${dir}/tls }
  limits: { per_ip_concurrency: 5000, per_ip_rate: 10000000, max_connections: 5000 }
spamd: ${spamdPort ? `{ enabled: true, host: 127.0.0.1, port: ${spamdPort}, timeout: 60s }` : '{ enabled: false }'}
queue: { dir: ${dir}/spool, transport: "smtp://127.0.0.1:2526" }
metrics: { enabled: false }
`,
  );
  return file;
}

async function startMx(name: string, port: number, cfg: string): Promise<{ pid: number; pidfile: string; stop(): void }> {
  const pidfile = join(WORK, `${name}.pid`);
  const out = join(WORK, `${name}.log`);
  const child = spawn(NODE, [join(REPO, 'apps/mx/dist/main.js'), '--config', cfg, '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, MOAT_LOG_LEVEL: process.env.MOAT_LOG_LEVEL ?? 'info', NODE_OPTIONS: `--require ${join(HARNESS, 'lib/dns-loopback.cjs')} --max-semi-space-size=4` },
    stdio: ['ignore', openSync(out, 'w'), openSync(out, 'a')],
  });
  child.on('exit', (c) => log(`${name} exited (${c})`));
  writeFileSync(pidfile, String(child.pid));
  for (let i = 0; i < 100; i++) {
    if (await canConnect(port)) break;
    await sleep(100);
  }
  if (!(await canConnect(port))) throw new Error(`${name} did not listen on ${port} (see ${out})`);
  log(`${name} up on 127.0.0.1:${port} (pid ${child.pid})`);
  return { pid: child.pid!, pidfile, stop: () => child.kill('SIGTERM') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

/** Open n sessions, each greeted and EHLO'd, and keep them idle; returns the sockets. */
async function idleSessions(port: number, n: number): Promise<Socket[]> {
  const socks: Socket[] = [];
  const one = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' });
      let buf = '';
      let said = false;
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        buf += d;
        if (!said && buf.includes('220 ')) {
          said = true;
          s.write('EHLO idle.example.net\r\n');
        } else if (said && /\r\n250 /.test(buf)) {
          s.removeAllListeners('data');
          resolve(s);
        }
      });
      s.once('error', reject);
    });
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, one));
    socks.push(...batch);
  }
  return socks;
}

interface Row {
  label: string;
  msgs_per_s: number | null;
  msgs_per_s_runs?: number[];
  p50_ms?: number | null;
  p99_ms?: number | null;
  rss_peak_mb?: number | null;
  cpu_ms_per_msg?: number | null;
  messages?: number;
  note?: string;
}

async function runOnce(port: number, messages: number, label: string, pid?: number): Promise<Record<string, number | boolean | string>> {
  const args = [join(HARNESS, 'run.sh'), String(port), '--messages', String(messages), '--label', label];
  if (pid) args.push('--pid', String(pid));
  else args.push('--no-latency');
  const r = await run('bash', args);
  const line = r.stdout.trim().split('\n').pop() ?? '{}';
  log(`  ${line}`);
  return JSON.parse(line);
}

const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

async function main() {
  mkdirSync(OUT, { recursive: true });
  mkdirSync(WORK, { recursive: true });
  if (!existsSync(join(ROOT, 'haraka/profiles/full/config')) || !existsSync(join(ROOT, 'postfix/etc/main.cf'))) {
    log('harness not set up: running setup.sh');
    sh('bash', [join(HARNESS, 'setup.sh')]);
  }
  log('building apps/mx');
  execFileSync('npm', ['run', 'build', '-w', '@moat/mx'], { cwd: REPO, stdio: 'ignore' });
  for (const s of ['dns', 'redis', 'sink']) sh('bash', [join(HARNESS, 'services.sh'), 'start', s]);

  const spamd = await startSpamd({ maxChildren: 2 });
  log(`spamd up on ${spamd.host}:${spamd.port}`);
  const runs = Number(values.runs);
  const rows: Row[] = [];
  let idle: { n: number; before: number; after: number; ok: number } | undefined;
  let idleFresh: { n: number; before: number; after: number; ok: number } | undefined;
  const mx = await startMx('mx', 2600, config('mx', undefined));
  // The floor (issue 21): smtp-server accepting, streaming to an fsynced spool file, 250, then forwarding to the
  // sink; no checks. moat's rate is reported as a share of it.
  const floorPid = join(WORK, 'floor-mx.pid');
  const floor = spawn(NODE, ['--max-semi-space-size=4', join(REPO, 'bench/floor-mx.ts'), '--listen', '127.0.0.1:2603', '--spool', join(WORK, 'floor-spool'), '--forward', '127.0.0.1:2526', '--pidfile', floorPid], {
    stdio: ['ignore', 'ignore', openSync(join(WORK, 'floor-mx.log'), 'w')],
  });
  let mxSpamd: Awaited<ReturnType<typeof startMx>> | undefined;
  try {
    // anchors + mx (spamd off), one bench-all run
    const targets = values['skip-anchors'] ? 'sink' : values.targets;
    log(`bench-all: ${targets} + mx`);
    const r = await run(
      'bash',
      [
        join(HARNESS, 'bench-all.sh'),
        '--runs', String(runs),
        '--messages', values.messages,
        '--sink-messages', String(Number(values.messages) * 5),
        '--targets', targets,
        '--extra', `floor-mx=2603:${floorPid}`,
        '--extra', `mx=2600:${mx.pidfile}`,
        '--extra-sanity', '--dnsbl reject --greylist defer --badhelo reject',
        '--out', OUT,
      ],
      { inherit: true },
    );
    if (r.status !== 0) log(`bench-all exited ${r.status}`);
    const summary = JSON.parse(readFileSync(join(OUT, 'summary.json'), 'utf8')) as Record<string, Row>;
    for (const [label, s] of Object.entries(summary)) rows.push({ ...s, label });

    // bench-all stopped its services on exit: bring them back for the spamd-on target
    for (const s of ['dns', 'redis', 'sink']) await run('bash', [join(HARNESS, 'services.sh'), 'start', s]);
    mxSpamd = await startMx('mx-spamd', 2601, config('mx-spamd', spamd.port));
    const sanity = await run('bash', [join(HARNESS, 'sanity.sh'), '2601']);
    log(`  sanity mx-spamd (after pre-pass): ${sanity.stdout.trim()}`);
    for (let i = 0; i < 5 && !/"accept":\{"want":"accept","got":"accept"/.test(sanity.stdout); i++) {
      await sleep(2000);
      const again = await run('bash', [join(HARNESS, 'sanity.sh'), '2601']);
      if (/"accept":\{"want":"accept","got":"accept"/.test(again.stdout)) break;
    }
    const sm = Number(values['spamd-messages']);
    await runOnce(2601, Math.min(100, sm), 'warmup');
    const tput = [];
    for (let i = 0; i < runs; i++) tput.push(await runOnce(2601, sm, 'mx-spamd'));
    const obs = [];
    for (let i = 0; i < runs; i++) obs.push(await runOnce(2601, sm, 'mx-spamd', mxSpamd.pid));
    rows.push({
      label: 'mx-spamd',
      messages: sm,
      msgs_per_s: median(tput.map((x) => Number(x.msgs_per_s))),
      msgs_per_s_runs: tput.map((x) => Number(x.msgs_per_s)),
      p50_ms: median(obs.map((x) => Number(x.p50_ms))),
      p99_ms: median(obs.map((x) => Number(x.p99_ms))),
      rss_peak_mb: median(obs.map((x) => Number(x.rss_peak_mb))),
      cpu_ms_per_msg: median(obs.map((x) => (Number(x.cpu_s) * 1000) / sm)),
      note: `${sm} messages per run; CPU is the MX process only (spamd's children not counted)`,
    });

    // resident memory at N idle sessions (the spamd-off MX, after its load runs)
    const n = Number(values.idle);
    const before = rssMb(mx.pid);
    const socks = await idleSessions(2600, n).catch((e) => {
      log(`idle sessions failed: ${e}`);
      return [] as Socket[];
    });
    await sleep(2000);
    idle = { n, before, after: rssMb(mx.pid), ok: socks.length };
    log(`idle: ${socks.length}/${n} sessions, RSS ${before} MB -> ${idle.after} MB`);
    for (const s of socks) s.destroy();

    // and on a fresh process (no load before): what a newly started MX costs per idle session
    const fresh = await startMx('mx-fresh', 2602, config('mx-fresh', undefined));
    try {
      await sleep(1000);
      const b = rssMb(fresh.pid);
      const fs2 = await idleSessions(2602, n).catch(() => [] as Socket[]);
      await sleep(2000);
      idleFresh = { n, before: b, after: rssMb(fresh.pid), ok: fs2.length };
      log(`idle (fresh process): ${fs2.length}/${n} sessions, RSS ${b} MB -> ${idleFresh.after} MB`);
      for (const s of fs2) s.destroy();
    } finally {
      fresh.stop();
    }
  } finally {
    mx.stop();
    floor.kill('SIGTERM');
    mxSpamd?.stop();
    await spamd.close();
    await run('bash', [join(HARNESS, 'services.sh'), 'stop', 'all']);
  }

  const env_txt = existsSync(join(OUT, 'env.txt')) ? readFileSync(join(OUT, 'env.txt'), 'utf8') : '';
  const by = new Map(rows.map((r) => [r.label, r]));
  const haraka = by.get('haraka-full')?.msgs_per_s ?? null;
  const postfix = by.get('postfix-full')?.msgs_per_s ?? null;
  const floorRate = by.get('floor-mx')?.msgs_per_s ?? null;
  const ratio = (x: number | null | undefined, a: number | null) => (x && a ? `${(x / a).toFixed(2)}x` : '-');
  const fmt = (x: number | null | undefined, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
  const table = [
    '| target | msgs/s (median) | runs | vs Haraka full | vs Postfix full | share of the floor | p50 / p99 ms | RSS peak MB | CPU ms/msg |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${fmt(r.msgs_per_s, 1)} | ${(r.msgs_per_s_runs ?? []).join(' / ')} | ${ratio(r.msgs_per_s, haraka)} | ${ratio(r.msgs_per_s, postfix)} | ${r.msgs_per_s && floorRate ? `${Math.round((100 * r.msgs_per_s) / floorRate)}%` : '-'} | ${fmt(r.p50_ms, 1)} / ${fmt(r.p99_ms, 1)} | ${fmt(r.rss_peak_mb)} | ${fmt(r.cpu_ms_per_msg, 2)} |`,
    ),
  ].join('\n');
  const idleLine = [
    idleFresh ? `Idle sessions, fresh MX: ${idleFresh.ok} of ${idleFresh.n} open (greeted, EHLO done): resident memory ${idleFresh.before} MB -> ${idleFresh.after} MB.` : '',
    idle ? `Idle sessions, MX after the load runs: ${idle.ok} of ${idle.n} open: resident memory ${idle.before} MB -> ${idle.after} MB.` : 'Idle sessions: not measured.',
  ].join('\n');
  console.log(`${table}\n\n${idleLine}\n`);
  writeFileSync(join(OUT, 'moat-summary.md'), `${table}\n\n${idleLine}\n\n\`\`\`\n${env_txt}\`\`\`\n`);
  writeFileSync(join(OUT, 'moat-rows.json'), JSON.stringify({ rows, idle, idleFresh }, null, 2));
  log(`results in ${OUT} (moat-summary.md); copy the figures into docs/bench-smtp.md`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
