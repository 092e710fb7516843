// Resident memory of the shipped MX holding N idle sessions, fresh and after a load run (issue 21: "1,000 idle
// sessions in at most 150 MB"), without bench/smtp.ts's harness. Loopback only: a private redis-server, Unbound
// answering from local data, smtp-sink as the next hop, smtp-source as the load (as bench/mx-profile.ts).
//
//   node bench/memory-after-load.ts [--mains A/main.js,B/main.js,A/main.js,...] [--messages 3000] [--idle 1000]
//                                   [--settle 20] [--hold 20] [--flags "--max-semi-space-size=4"] [--env NAME=VALUE ...]
//                                   [--dump] [--malloc-trim]
//
// Each main, in a fresh process, in this order: resident memory idle (fresh); N sessions greeted and past EHLO,
// measured 2 s after they opened and again after `--hold` s ("fresh + N idle"), closed; `--messages` messages of
// 10 KiB by 20 smtp-source sessions, each checked and queued with fsync and delivered to smtp-sink; N idle sessions
// opened the moment the load ends, measured 2 s later (what bench/smtp.ts measures), closed; `--settle` s of
// nothing ("after load"); N idle sessions again, 2 s and `--hold` s ("after load + N idle"). Beside each figure
// the V8 heaps of the SMTP and the delivery thread (its /metrics: used / committed MB).
// `--flags` are the node flags the MX runs with (default: what bench/smtp.ts gives it through NODE_OPTIONS).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { idleSessions } from './idle-sessions.ts';
import { freePort, startRedis, startUnbound, waitForPort } from '@moat/testkit';

const { values } = parseArgs({
  options: {
    mains: { type: 'string' },
    messages: { type: 'string', default: '3000' },
    idle: { type: 'string', default: '1000' },
    settle: { type: 'string', default: '20' },
    /** Seconds the idle sessions are held before the second figure ("held"): the first is taken 2 s after they opened. */
    hold: { type: 'string', default: '20' },
    flags: { type: 'string', default: '--max-semi-space-size=4' },
    env: { type: 'string', multiple: true, default: [] },
    keep: { type: 'boolean', default: false },
    /** Write each stage's /metrics and /proc/PID/smaps into the work dir (implies --keep). */
    dump: { type: 'boolean', default: false },
    /** Diagnosis: after the "after load" figure, call glibc's malloc_trim(0) in the MX through gdb and measure again. */
    'malloc-trim': { type: 'boolean', default: false },
  },
});
const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const MAINS = values.mains ? values.mains.split(',') : [join(REPO, 'apps/mx/dist/main.js')];
const MESSAGES = Number(values.messages);
const IDLE = Number(values.idle);
const SETTLE_MS = Number(values.settle) * 1000;
const HOLD_MS = Number(values.hold) * 1000;
const FLAGS = values.flags.split(' ').filter(Boolean);
const ENV = Object.fromEntries(values.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
const W = `/tmp/moat-memory-after-load-${process.pid}`;
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function status(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

/** The V8 heaps of the SMTP thread (prom-client's default metrics) and the delivery thread (its upkeep's gauge) from /metrics, MB used / committed. */
async function heap(metricsPort: number, pid: number, stage: string): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    if (values.dump) {
      writeFileSync(join(W, `${pid}-${stage}.metrics`), text);
      writeFileSync(join(W, `${pid}-${stage}.smaps`), readFileSync(`/proc/${pid}/smaps`));
    }
    const sum = (name: string) => {
      let total = 0;
      // the delivery thread's registry is appended: count only the first block of each name (this thread's)
      const seen = new Set<string>();
      for (const m of text.matchAll(new RegExp(`^${name}\\{space="(\\w+)"\\} (\\d+)`, 'gm'))) {
        if (seen.has(m[1]!)) continue;
        seen.add(m[1]!);
        total += Number(m[2]);
      }
      return (total / 1048576).toFixed(1);
    };
    // the delivery thread's registry has no default metrics: its upkeep's gauge (moat_mx_delivery_heap_bytes)
    const gauge = (kind: string) => {
      const m = new RegExp(`^moat_mx_delivery_heap_bytes\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text);
      return m ? (Number(m[1]) / 1048576).toFixed(1) : '-';
    };
    return `${sum('nodejs_heap_space_size_used_bytes')}/${sum('nodejs_heap_space_size_total_bytes')} (delivery ${gauge('used')}/${gauge('committed')})`;
  } catch {
    return '-';
  }
}

function source(port: number, m: number): void {
  try {
    execFileSync('smtp-source', ['-l', '10240', '-m', String(m), '-s', '20', '-M', 'mail.example.net', '-f', 'sender@sender.example', '-t', 'rcpt@example.org', `127.0.0.1:${port}`], { stdio: 'ignore' });
  } catch (e) {
    log(`smtp-source: ${(e as Error).message.slice(0, 200)}`);
  }
}

interface Row {
  main: string;
  fresh: number;
  atLoadEnd: number;
  rightAfterIdle: number;
  freshIdle: number;
  freshHeld: number;
  afterLoad: number;
  afterLoadIdle: number;
  afterLoadHeld: number;
  anon: number;
  heldAnon: number;
  heaps: string[];
  loadSecs: number;
}

async function measure(main: string, redisUrl: string, resolver: string, sinkPort: number): Promise<Row> {
  const port = await freePort();
  const metricsPort = await freePort();
  const dir = join(W, `mx-${port}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}/moat.yaml`,
    `version: 1
policy:
  hostname: mx.moat.example
  mynetworks: []
  recipient_restrictions: reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, reject_non_fqdn_sender, reject_unlisted_recipient, permit_mynetworks, check_policy_service moat:greylist, permit
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
dns:
  resolver: ${resolver}
greylist: { redis: { url: "${redisUrl}" }, delay: 1s }
mx:
  tls: { state_dir: ${dir}/tls }
  limits: { per_ip_concurrency: 5000, per_ip_rate: 10000000, max_connections: 5000 }
spamd: { enabled: false }
queue: { dir: ${dir}/spool, transport: "smtp:[127.0.0.1]:${sinkPort}" }
metrics: { enabled: false }
`,
  );
  const mx: ChildProcess = spawn(process.execPath, [...FLAGS, main, '--config', `${dir}/moat.yaml`, '--listen', `127.0.0.1:${port}`, '--metrics', `127.0.0.1:${metricsPort}`], {
    env: { ...process.env, MOAT_LOG_LEVEL: 'warn', ...ENV },
    stdio: ['ignore', openSync(`${dir}/mx.log`, 'w'), openSync(`${dir}/mx.err`, 'w')],
  });
  try {
    await waitForPort(port, '127.0.0.1', 60_000);
    const pid = mx.pid!;
    await sleep(3000);
    const heaps: string[] = [];
    const fresh = status(pid, 'VmRSS');
    heaps.push(await heap(metricsPort, pid, 'fresh'));
    let socks = await idleSessions(port, IDLE);
    await sleep(2000);
    const freshIdle = status(pid, 'VmRSS');
    heaps.push(await heap(metricsPort, pid, 'fresh-idle'));
    await sleep(HOLD_MS);
    const freshHeld = status(pid, 'VmRSS');
    for (const s of socks) s.destroy();
    log(`${main}: fresh ${fresh} MB, ${socks.length} idle sessions ${freshIdle} MB, held ${freshHeld} MB`);
    source(port, 20); // the greylist's first sight of the triplet
    await sleep(2500);
    const t0 = performance.now();
    source(port, MESSAGES);
    const loadSecs = (performance.now() - t0) / 1000;
    // right after the load, as bench/smtp.ts measures: the sessions open the moment the load stops
    const atLoadEnd = status(pid, 'VmRSS');
    socks = await idleSessions(port, IDLE);
    await sleep(2000);
    const rightAfterIdle = status(pid, 'VmRSS');
    heaps.push(await heap(metricsPort, pid, 'right-after-load-idle'));
    for (const s of socks) s.destroy();
    log(`${main}: at the load's end ${atLoadEnd} MB, ${socks.length} idle sessions opened at once ${rightAfterIdle} MB`);
    await sleep(SETTLE_MS);
    const afterLoad = status(pid, 'VmRSS');
    heaps.push(await heap(metricsPort, pid, 'after-load'));
    if (values['malloc-trim']) {
      execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', 'call (int) malloc_trim(0)'], { stdio: 'ignore' });
      await sleep(500);
      log(`${main}: after load ${afterLoad} MB; after malloc_trim(0) ${status(pid, 'VmRSS')} MB`);
    }
    socks = await idleSessions(port, IDLE);
    await sleep(2000);
    const afterLoadIdle = status(pid, 'VmRSS');
    const anon = status(pid, 'RssAnon');
    heaps.push(await heap(metricsPort, pid, 'after-load-idle'));
    await sleep(HOLD_MS);
    const afterLoadHeld = status(pid, 'VmRSS');
    const heldAnon = status(pid, 'RssAnon');
    heaps.push(await heap(metricsPort, pid, 'after-load-held'));
    for (const s of socks) s.destroy();
    log(`${main}: ${MESSAGES} messages in ${loadSecs.toFixed(1)} s; after load ${afterLoad} MB, ${socks.length} idle sessions ${afterLoadIdle} MB (anon ${anon}), held ${afterLoadHeld} MB (anon ${heldAnon})`);
    return { main, fresh, atLoadEnd, rightAfterIdle, freshIdle, freshHeld, afterLoad, afterLoadIdle, afterLoadHeld, anon, heldAnon, heaps, loadSecs };
  } finally {
    const gone = new Promise((r) => mx.once('exit', r));
    mx.kill('SIGTERM');
    await Promise.race([gone, sleep(12_000)]);
  }
}

mkdirSync(W, { recursive: true });
if (values.dump) log(`dumps in ${W}`);
const redis = await startRedis();
const unbound = await startUnbound({
  stubZones: {},
  localZones: { 'example.': 'static', 'example.net.': 'static', 'example.org.': 'static', 'in-addr.arpa.': 'static' },
  localData: ['mail.example.net. A 127.0.0.1', '1.0.0.127.in-addr.arpa. PTR mail.example.net.'],
});
const sinkPort = await freePort();
const sink = spawn('smtp-sink', ['-u', 'nobody', `127.0.0.1:${sinkPort}`, '1024'], { stdio: 'ignore' });
const rows: Row[] = [];
try {
  for (const main of MAINS) rows.push(await measure(main, redis.url, unbound.server, sinkPort));
} finally {
  sink.kill();
  await redis.stop();
  await unbound.stop();
  if (!values.keep && !values.dump) rmSync(W, { recursive: true, force: true });
}
console.log(`flags: ${FLAGS.join(' ') || '(none)'}${values.env.length ? `; env ${values.env.join(' ')}` : ''}; ${MESSAGES} messages; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
const held = `${values.hold} s`;
console.log(`| main | fresh MB | + ${IDLE} idle: 2 s / ${held} MB | load's end MB | + ${IDLE} idle opened at once, 2 s MB | after load MB | + ${IDLE} idle: 2 s (anon) / ${held} (anon) MB | V8 heap used/committed MB: fresh, +idle, at once +idle, after, +idle, held | load s |`);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.main} | ${r.fresh} | ${r.freshIdle} / ${r.freshHeld} | ${r.atLoadEnd} | **${r.rightAfterIdle}** | ${r.afterLoad} | ${r.afterLoadIdle} (${r.anon}) / **${r.afterLoadHeld}** (${r.heldAnon}) | ${r.heaps.join(', ')} | ${r.loadSecs.toFixed(1)} |`);
process.exit(0);
