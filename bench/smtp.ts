// SMTP throughput of the moat MX against its anchors, side by side in one run, with the shared harness
// (../shared/bench/smtp: smtp-source, smtp-sink, Haraka, a private Postfix, Unbound + rbldnsd, redis).
// Talks only to 127.0.0.0/8: the harness's Unbound refuses everything but its test zones.
//
//   npm exec -- node bench/smtp.ts [--messages 2000] [--runs 3] [--spamd-messages 300] [--idle 1000]
//                                  [--targets "sink haraka-full postfix-full"] [--skip-anchors] [--out DIR]
//                                  [--baseline DIR]
//
// 1. builds apps/mx (dist/main.js), starts the harness's dns/redis/sink, a real spamd (loopback, -L)
//    and two MX processes: `mx` (spamd off) on 2600 and `mx-spamd` (spamd on) on 2601, both with the
//    bench policy: HELO checks, DNSWL wl.test, DNSBL bl.test, greylist in redis (delay 1 s, pre-passed
//    by the harness), loopback NOT exempted (mynetworks empty), queue (fsync) -> smtp://127.0.0.1:2526 (sink);
// 2. runs the harness's bench-all.sh with the anchors, the floor (bench/floor-mx.ts on 2603: smtp-server to an
//    fsynced file, forwarded to the sink, no checks), `--extra mx=2600` and the DNS-list pair (same run, same
//    machine): `mx-seed-first-hit` (2604: the seed's IP lists as first-hit restrictions) and `mx-weighted` (2605:
//    the same lists as postscreen_dnsbl_sites summed by reject_dnsbl_score), both resolving through their own
//    Unbound (warm cache) that stubs the seed's zones to an rbldnsd of ours and bl.test/wl.test to the harness's;
//    `--weighted-only` runs just those three MX rows (no anchors, no spamd, no idle test);
// 3. measures `mx-spamd` with the harness's run.sh (fewer messages: spamd scans each one);
// 4. opens N idle sessions (greeting + EHLO) to `mx` and reads its resident memory;
// 5. prints a table with ratios to Haraka full and Postfix full and writes docs/bench-smtp.md.
// --baseline DIR (another checkout, e.g. `git worktree add DIR REV` with its node_modules): its apps/mx is built
// and run as `mx-base` on 2606 with mx's config, measured in the same bench-all run; the table says mx / mx-base.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { idleSessions } from './idle-sessions.ts';
import { compileConfig, parseConfig } from '@moat/config';
import { type DnsblSite, formatDnsblSite, formatRestriction, type Restriction } from '@moat/policy';
import { startRbldnsd, startSpamd, startUnbound } from '@moat/testkit';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    'spamd-messages': { type: 'string', default: '300' },
    idle: { type: 'string', default: '1000' },
    targets: { type: 'string', default: 'sink haraka-full postfix-full' },
    'skip-anchors': { type: 'boolean', default: false },
    'weighted-only': { type: 'boolean', default: false },
    out: { type: 'string' },
    baseline: { type: 'string' },
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

/**
 * The seed's IP lists (the shipped default policy's permit_dnswl_client / reject_rbl_client, in order, with their
 * filters): as first-hit restrictions, and as postscreen_dnsbl_sites (block lists *2, allow lists *-2).
 */
function seedLists(): { restrictions: Restriction[]; sites: DnsblSite[]; zones: string[] } {
  const c = compileConfig(parseConfig('policy:\n  hostname: mx.moat.example\nrecipients:\n  domains: [example.org]\n', { env: {} }));
  const restrictions = c.spec.recipientRestrictions.filter((r) => r.type === 'permit_dnswl_client' || r.type === 'reject_rbl_client');
  const sites = restrictions.map((r) => {
    const { zone, filter } = r as { zone: string; filter?: string };
    return { zone, ...(filter ? { filter } : {}), weight: r.type === 'permit_dnswl_client' ? -2 : 2 } as DnsblSite;
  });
  return { restrictions, sites, zones: [...new Set(sites.map((s) => s.zone))] };
}

const BASE_LISTS = 'permit_dnswl_client wl.test, reject_rbl_client bl.test';

function config(name: string, spamdPort: number | undefined, dnsLists = BASE_LISTS, more = '', resolver = '127.0.0.1:5353'): string {
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
    ${dnsLists},
    check_policy_service moat:greylist, permit
${more}recipients:
  domains: [example.org]
  catch_all: [example.org]
dns:
  resolver: ${resolver}
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

async function startMx(name: string, port: number, cfg: string, dns = '127.0.0.1:5353', repo = REPO): Promise<{ pid: number; pidfile: string; stop(): void }> {
  const pidfile = join(WORK, `${name}.pid`);
  const out = join(WORK, `${name}.log`);
  const child = spawn(NODE, [join(repo, 'apps/mx/dist/main.js'), '--config', cfg, '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, BENCH_DNS: dns, MOAT_LOG_LEVEL: process.env.MOAT_LOG_LEVEL ?? 'info', NODE_OPTIONS: `--require ${join(HARNESS, 'lib/dns-loopback.cjs')} --max-semi-space-size=4` },
    stdio: ['ignore', openSync(out, 'w'), openSync(out, 'a')],
  });
  child.on('exit', (c) => log(`${name} exited (${c})`));
  writeFileSync(pidfile, String(child.pid));
  // up to 60 s: on a loaded machine (8 sessions on 2 cores) a start has taken over 10 s
  for (let i = 0; i < 600; i++) {
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

interface IdleFigure {
  n: number;
  before: number;
  after: number;
  ok: number;
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
  const baseline = values.baseline;
  if (baseline) {
    log(`building ${baseline}/apps/mx (baseline)`);
    execFileSync('npm', ['run', 'build', '-w', '@moat/mx'], { cwd: baseline, stdio: 'ignore' });
  }
  for (const s of ['dns', 'redis', 'sink']) sh('bash', [join(HARNESS, 'services.sh'), 'start', s]);

  const weightedOnly = values['weighted-only'];
  const spamd = weightedOnly ? undefined : await startSpamd({ maxChildren: 2 });
  if (spamd) log(`spamd up on ${spamd.host}:${spamd.port}`);
  const runs = Number(values.runs);
  const rows: Row[] = [];
  let idle: IdleFigure | undefined;
  let idleFresh: IdleFigure | undefined;
  const mx = await startMx('mx', 2600, config('mx', undefined));
  // the same config (its own spool) on the other checkout's build
  const mxBase = baseline ? await startMx('mx-base', 2606, config('mx-base', undefined), undefined, baseline) : undefined;
  // The floor (issue 21): smtp-server accepting, streaming to an fsynced spool file, 250, then forwarding to the
  // sink; no checks. moat's rate is reported as a share of it.
  const floorPid = join(WORK, 'floor-mx.pid');
  const floor = weightedOnly
    ? undefined
    : spawn(NODE, ['--max-semi-space-size=4', join(REPO, 'bench/floor-mx.ts'), '--listen', '127.0.0.1:2603', '--spool', join(WORK, 'floor-spool'), '--forward', '127.0.0.1:2526', '--pidfile', floorPid], {
        stdio: ['ignore', 'ignore', openSync(join(WORK, 'floor-mx.log'), 'w')],
      });
  // Weighted lists (issue 17) against first hit over the same zones: the seed's IP lists, served by an rbldnsd
  // of ours where each zone lists only its RFC 5782 test point (the zone-health probe passes; the load's
  // client 127.0.0.1 is on none, so every list is asked and none decides), through an Unbound of ours set
  // like the harness's (no prefetch, no qname minimisation); warm: the pre-pass and the warm-up fill its cache.
  const seed = seedLists();
  const rbl = await startRbldnsd({ zones: Object.fromEntries(seed.zones.map((z) => [z, ':127.0.0.2:test point\n127.0.0.2'])) });
  const seedDns = await startUnbound({
    stubZones: { ...Object.fromEntries(seed.zones.map((z) => [z, rbl.stubAddr])), 'bl.test': '127.0.0.1@5354', 'wl.test': '127.0.0.1@5354' },
    localZones: { 'example.net': 'static' },
    localData: ['mail.example.net. 86400 IN A 127.0.0.1'],
    serverConfig: ['prefetch: no', 'qname-minimisation: no'],
  });
  const firstHit = `${BASE_LISTS},\n    ${seed.restrictions.map(formatRestriction).join(',\n    ')}`;
  // bl.test*4 at threshold 4: the sanity check's 127.0.0.4 (on bl.test only) is still refused
  const sites = ['bl.test*4', ...seed.sites.map(formatDnsblSite)].join(', ');
  const weighted = `permit_dnswl_client wl.test, reject_dnsbl_score`;
  const mxFirst = await startMx('mx-seed-first-hit', 2604, config('mx-seed-first-hit', undefined, firstHit, '', seedDns.server), seedDns.server);
  const mxWeighted = await startMx('mx-weighted', 2605, config('mx-weighted', undefined, weighted, `  dnsbl_sites: "${sites}"\n  dnsbl_threshold: 4\n`, seedDns.server), seedDns.server);
  log(`seed lists: ${seed.sites.length} sites over ${seed.zones.length} zones (${seed.zones.join(' ')})`);
  let mxSpamd: Awaited<ReturnType<typeof startMx>> | undefined;
  try {
    // anchors + mx (spamd off) + the DNS-list pair, one bench-all run
    const targets = weightedOnly ? '' : values['skip-anchors'] ? 'sink' : values.targets;
    log(`bench-all: ${targets} + mx + mx-seed-first-hit + mx-weighted`);
    const r = await run(
      'bash',
      [
        join(HARNESS, 'bench-all.sh'),
        '--runs', String(runs),
        '--messages', values.messages,
        '--sink-messages', String(Number(values.messages) * 5),
        '--targets', targets,
        ...(floor ? ['--extra', `floor-mx=2603:${floorPid}`] : []),
        '--extra', `mx=2600:${mx.pidfile}`,
        ...(mxBase ? ['--extra', `mx-base=2606:${mxBase.pidfile}`] : []),
        '--extra', `mx-seed-first-hit=2604:${mxFirst.pidfile}`,
        '--extra', `mx-weighted=2605:${mxWeighted.pidfile}`,
        '--extra-sanity', '--dnsbl reject --greylist defer --badhelo reject',
        '--out', OUT,
      ],
      { inherit: true },
    );
    if (r.status !== 0) log(`bench-all exited ${r.status}`);
    const summary = JSON.parse(readFileSync(join(OUT, 'summary.json'), 'utf8')) as Record<string, Row>;
    for (const [label, s] of Object.entries(summary)) rows.push({ ...s, label });
    if (weightedOnly || !spamd) return;

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
    mxBase?.stop();
    mxFirst.stop();
    mxWeighted.stop();
    floor?.kill('SIGTERM');
    mxSpamd?.stop();
    await spamd?.close();
    await seedDns.stop();
    await rbl.stop();
    await run('bash', [join(HARNESS, 'services.sh'), 'stop', 'all']);
    report(rows, idle, idleFresh);
  }
}

function report(rows: Row[], idle: IdleFigure | undefined, idleFresh: IdleFigure | undefined): void {
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
  const firstRate = by.get('mx-seed-first-hit')?.msgs_per_s;
  const weightedRate = by.get('mx-weighted')?.msgs_per_s;
  const share = (x: number | null | undefined, a: number | null | undefined) => (x && a ? `${Math.round((100 * x) / a)}%` : '-');
  const weightedLine = `Weighted lists (issue 17): mx-weighted ${fmt(weightedRate, 1)} msgs/s = ${share(weightedRate, firstRate)} of mx-seed-first-hit (same zones, first hit; goal >= 95%), ${share(weightedRate, by.get('mx')?.msgs_per_s)} of mx (bl.test/wl.test only).`;
  const base = by.get('mx-base');
  const mxRow = by.get('mx');
  const baseLine = base
    ? `Before/after (--baseline ${values.baseline}): mx ${fmt(mxRow?.msgs_per_s, 1)} msgs/s = ${share(mxRow?.msgs_per_s, base.msgs_per_s)} of mx-base ${fmt(base.msgs_per_s, 1)}; CPU ${fmt(mxRow?.cpu_ms_per_msg, 2)} vs ${fmt(base.cpu_ms_per_msg, 2)} ms/msg; p99 ${fmt(mxRow?.p99_ms, 1)} vs ${fmt(base.p99_ms, 1)} ms.`
    : '';
  const idleLine = [
    ...(baseLine ? [baseLine] : []),
    weightedLine,
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
