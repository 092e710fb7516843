// Resident memory of the moat MX under the loads issue 21 names, beside the floor MX (bench/floor-mx.ts:
// smtp-server streaming to an fsynced file, no checks), in one run: idle, N concurrent large messages, and M
// idle sessions. Figures, not assertions. Loopback only; a private redis-server (testkit) for the config.
//
//   node bench/memory.ts [--concurrent 20] [--size-mb 75] [--idle 1000] [--keep] [--only floor,mx,shipped] [--no-build]
//
// The MX runs as shipped (apps/mx/dist/main.js, built first) with --no-delivery: accepting and spooling only,
// so the figures are the SMTP side's (the delivery thread holds queue files within its own 256 MiB budget).
// The floor runs from source (Node's type stripping adds about 30 MB to its idle figure): compare the deltas.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startRedis, waitForPort } from '@moat/testkit';

const { values } = parseArgs({
  options: {
    concurrent: { type: 'string', default: '20' },
    'size-mb': { type: 'string', default: '75' },
    idle: { type: 'string', default: '1000' },
    keep: { type: 'boolean', default: false },
    only: { type: 'string', default: 'floor,mx,shipped' },
    'mx-flags': { type: 'string', default: '--max-semi-space-size=4' },
    /** Measure apps/mx/dist as it is (built by the caller) instead of building it first. */
    'no-build': { type: 'boolean', default: false },
    /** The MX bundles to measure as shipped, comma-separated (before/after rows in one run); implies --no-build. */
    mains: { type: 'string' },
  },
});
const CONCURRENT = Number(values.concurrent);
const SIZE_MB = Number(values['size-mb']);
const IDLE = Number(values.idle);
const ONLY = new Set(values.only.split(','));
/** node flags for the MX processes: by default what the bundle's shebang gives node. */
const MX_FLAGS = values['mx-flags'].split(' ').filter(Boolean);
const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const WORK = `/tmp/moat-bench-memory-${process.pid}`;
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RssAnon: resident memory minus mapped files (the node binary's code, shared with every node process). */
function anonMb(pid: number): number {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function rssMb(pid: number): number {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return Number.NaN; // gone
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

/** One SMTP conversation step: write a line, wait for a reply whose last line starts with `code `. */
function converse(s: Socket): (line: string | undefined, code: string) => Promise<string> {
  let buf = '';
  let waiter: (() => void) | undefined;
  s.setEncoding('latin1');
  s.on('data', (d: string) => {
    buf += d;
    waiter?.();
  });
  return (line, code) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buf);
        if (!m) return;
        waiter = undefined;
        const got = buf;
        buf = '';
        if (m[2] === code) resolve(got);
        else reject(new Error(`wanted ${code}, got ${got.trim()}`));
      };
      waiter = check;
      s.once('error', reject);
      if (line !== undefined) s.write(`${line}\r\n`);
      check();
    });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const LINE = `${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2)}ABCDEF\r\n`; // 80 octets
const MIB = Buffer.from(LINE.repeat(Math.floor((1024 * 1024) / LINE.length)), 'latin1');

/** One session sending one message of `mb` MiB at full speed; resolves with the 250 reply. */
async function sendLarge(port: number, mb: number, n: number): Promise<string> {
  const s = await open(port);
  const say = converse(s);
  await say(undefined, '220');
  await say('EHLO bench.moat.example', '250');
  await say('MAIL FROM:<bench@sender.example>', '250');
  await say('RCPT TO:<rcpt@example.org>', '250');
  await say('DATA', '354');
  const head = Buffer.from(`From: bench@sender.example\r\nTo: rcpt@example.org\r\nSubject: large ${n}\r\nMessage-ID: <large-${n}-${Date.now()}@bench>\r\n\r\n`);
  s.write(head);
  for (let i = 0; i < mb; i++) {
    if (!s.write(MIB)) await new Promise((r) => s.once('drain', r));
  }
  const done = await say('.', '250');
  s.end('QUIT\r\n');
  return done.trim();
}

/** n sessions, greeted and EHLO'd, held idle. */
async function idleSessions(port: number, n: number): Promise<Socket[]> {
  const out: Socket[] = [];
  const one = async () => {
    const s = await open(port);
    const say = converse(s);
    await say(undefined, '220');
    await say('EHLO idle.moat.example', '250');
    s.removeAllListeners('data');
    return s;
  };
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, one))));
  return out;
}

interface Figures {
  target: string;
  idle: number;
  /** Resident memory just before the large messages (after the idle sessions closed). */
  largeBase: number;
  largePeak: number;
  largeAfter: number;
  largeSeconds: number;
  idleSessions: number;
  /** Time to the greeting of a new client during the large messages: median and max, ms. */
  greetMedian: number;
  greetMax: number;
  /** RssAnon with the idle sessions open. */
  idleSessionsAnon: number;
  idleOpen: number;
}

async function measure(target: string, proc: ChildProcess, port: number, large = true): Promise<Figures> {
  const pid = proc.pid!;
  await sleep(2000);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssMb(pid));
    await sleep(200);
  }
  const idle = samples.sort((a, b) => a - b)[2]!;
  log(`${target}: opening ${IDLE} idle sessions`);
  const socks = await idleSessions(port, IDLE).catch((e) => {
    log(`${target}: idle sessions failed: ${e}`);
    return [] as Socket[];
  });
  await sleep(2000);
  const idleSessionsMb = rssMb(pid);
  const idleSessionsAnon = anonMb(pid);
  for (const s of socks) s.destroy();
  log(`${target}: ${socks.length} idle sessions: ${idleSessionsMb} MB`);
  await sleep(2000);
  const idleAgain = rssMb(pid);
  if (!large) return { target, idle, largeBase: Number.NaN, largePeak: Number.NaN, largeAfter: Number.NaN, largeSeconds: Number.NaN, greetMedian: Number.NaN, greetMax: Number.NaN, idleSessions: idleSessionsMb, idleSessionsAnon, idleOpen: socks.length };
  log(`${target}: ${idleAgain} MB after the idle sessions closed; sending ${CONCURRENT} x ${SIZE_MB} MiB at once`);
  let peak = idleAgain;
  const sampler = setInterval(() => {
    const now = rssMb(pid);
    if (now > peak) peak = now;
  }, 50);
  const t0 = performance.now();
  // meanwhile a new client every 250 ms: how long until its greeting (issue 21 saw up to 9.7 s)
  const greetings: number[] = [];
  let loading = true;
  const prober = (async () => {
    while (loading) {
      const t = performance.now();
      try {
        const s = await open(port);
        await converse(s)(undefined, '220');
        greetings.push(performance.now() - t);
        s.destroy();
      } catch {
        greetings.push(Number.POSITIVE_INFINITY);
      }
      await sleep(250);
    }
  })();
  const replies = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => sendLarge(port, SIZE_MB, i)));
  const largeSeconds = (performance.now() - t0) / 1000;
  loading = false;
  await prober;
  clearInterval(sampler);
  greetings.sort((a, b) => a - b);
  const greetMedian = greetings[Math.floor(greetings.length / 2)] ?? Number.NaN;
  const greetMax = greetings.at(-1) ?? Number.NaN;
  log(`${target}: ${greetings.length} new clients during the load: greeting median ${greetMedian.toFixed(0)} ms, max ${greetMax.toFixed(0)} ms`);
  log(`${target}: ${replies.length} accepted in ${largeSeconds.toFixed(1)} s (${replies[0]}); peak ${peak} MB`);
  await sleep(2000);
  const largeAfter = rssMb(pid);
  return { target, idle, largeBase: idleAgain, largePeak: peak, largeAfter, largeSeconds, greetMedian, greetMax, idleSessions: idleSessionsMb, idleSessionsAnon, idleOpen: socks.length };
}

async function started(name: string, args: string[], port: number, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const out = openSync(join(WORK, `${name}.log`), 'w');
  const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  p.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') log(`${name} exited (${code ?? signal}): see ${join(WORK, `${name}.log`)}`);
  });
  await waitForPort(port, '127.0.0.1', 30_000);
  log(`${name} up on ${port} (pid ${p.pid})`);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([gone, sleep(10_000)]);
  if (p.exitCode === null) p.kill('SIGKILL');
}

async function main() {
  await mkdir(WORK, { recursive: true });
  const redis = await startRedis();
  const rows: Figures[] = [];
  try {
    // the floor: smtp-server streaming to an fsynced file
    const floorPort = await freePort();
    if (ONLY.has('floor')) {
    // both with the flag the MX bundle's shebang gives node (a small young generation)
    const floor = await started('floor', ['--max-semi-space-size=4', join(REPO, 'bench/floor-mx.ts'), '--listen', `127.0.0.1:${floorPort}`, '--spool', join(WORK, 'floor')], floorPort);
    try {
      rows.push(await measure('floor (smtp-server to an fsynced file)', floor, floorPort));
    } finally {
      await stop(floor);
      await rm(join(WORK, 'floor'), { recursive: true, force: true });
    }
    }

    const mxPort = await freePort();
    const deadDns = await freePort();
    const config = (name: string) => `version: 1
policy:
  hostname: mx.moat.example
  mynetworks: [127.0.0.0/8]
  recipient_restrictions: reject_non_fqdn_helo_hostname, reject_unlisted_recipient, permit_mynetworks, reject
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
dns:
  resolver: 127.0.0.1:${deadDns}
  timeout: 300ms
greylist: { redis: { url: "${redis.url}" } }
mx:
  tls: { state_dir: ${WORK}/tls }
  limits: { per_ip_concurrency: 5000, per_ip_rate: 10000000, max_connections: 5000 }
spamd: { enabled: false }
queue: { dir: ${WORK}/${name}, transport: "smtp://127.0.0.1:9" }
metrics: { enabled: false }
`;
    const cfg = join(WORK, 'moat.yaml');
    await writeFile(cfg, config('spool'));
    const shippedCfg = join(WORK, 'moat-shipped.yaml');
    await writeFile(shippedCfg, config('spool-shipped'));
    if (ONLY.has('mx') || ONLY.has('shipped')) log('building apps/mx');
    if (!values['no-build'] && !values.mains) execFileSync('npm', ['run', 'build', '-w', '@moat/mx'], { cwd: REPO, stdio: 'ignore' });
    if (ONLY.has('mx')) {
    const mx = await started('mx', [...MX_FLAGS, join(REPO, 'apps/mx/dist/main.js'), '--config', cfg, '--listen', `127.0.0.1:${mxPort}`, '--no-delivery'], mxPort, {
      MOAT_LOG_LEVEL: 'warn',
    });
    try {
      rows.push(await measure('moat mx --no-delivery (checks, auth results, spool with fsync)', mx, mxPort));
    } finally {
      await stop(mx);
      await rm(join(WORK, 'spool'), { recursive: true, force: true });
    }
    }
    // as shipped, with its delivery thread (a second V8 isolate): idle sessions only (its deliveries of large
    // messages would be the delivery thread's figures, within its 256 MiB budget, not the SMTP side's)
    const mains = values.mains ? values.mains.split(',') : [join(REPO, 'apps/mx/dist/main.js')];
    if (ONLY.has('shipped')) {
      for (const main of mains) {
        const shippedPort = await freePort();
        const shipped = await started('mx-shipped', [...MX_FLAGS, main, '--config', shippedCfg, '--listen', `127.0.0.1:${shippedPort}`], shippedPort, {
          MOAT_LOG_LEVEL: 'warn',
        });
        try {
          const name = values.mains ? `moat mx as shipped (${main})` : 'moat mx as shipped (with its delivery thread)';
          rows.push(await measure(name, shipped, shippedPort, false));
        } finally {
          await stop(shipped);
        }
      }
    }
  } finally {
    await redis.stop();
    if (!values.keep) await rm(WORK, { recursive: true, force: true });
  }

  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const floorRow = rows.find((r) => r.target.startsWith('floor'));
  const table = [
    `| target | idle MB | ${IDLE} idle sessions MB (over idle; anonymous) | before the large ones MB | ${CONCURRENT} x ${SIZE_MB} MiB at once: peak MB (over before) | after MB | accepted in s (MB/s) | greeting meanwhile: median / max ms |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.target} | ${fmt(r.idle)} | ${fmt(r.idleSessions)} (+${fmt(r.idleSessions - r.idle)}, ${r.idleOpen} open; ${fmt(r.idleSessionsAnon)}) | ${fmt(r.largeBase)} | ${fmt(r.largePeak)} (+${fmt(r.largePeak - r.largeBase)}) | ${fmt(r.largeAfter)} | ${fmt(r.largeSeconds)} (${fmt((CONCURRENT * SIZE_MB * 1.048576) / r.largeSeconds)}) | ${fmt(r.greetMedian)} / ${fmt(r.greetMax)} |`,
    ),
  ].join('\n');
  const mxRow = rows.find((r) => r.target.includes('--no-delivery'));
  const ratio = mxRow && floorRow ? `\nmoat's large-message throughput as a share of the floor's: ${((floorRow.largeSeconds / mxRow.largeSeconds) * 100).toFixed(0)}%.` : '';
  console.log(`${table}\n${ratio}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
