// The MX under smtp-source load, alone: messages/s, CPU ms per message (the process, and its SMTP thread
// alone) and syscalls per message (perf stat's syscall tracepoints: a count that does not depend on the
// machine's load), Redis commands and Redis CPU per message, optionally a V8 CPU profile.
// Loopback only: a private redis-server (greylist, journal), Unbound answering from local data, smtp-sink.
//   [KEEP=1] [LISTS=1] node bench/mx-profile.ts [MAIN.js] [CPU-PROFILE-DIR or ""] [MESSAGES]
//   (KEEP: leave the work dir and mx.log; LISTS: the anchor table's DNS lists in front, below)
// Checks: HELO/sender checks, reject_unlisted_recipient, the greylist (pre-passed), FCrDNS, SPF/DKIM/DMARC,
// the fsync'ed queue and delivery to smtp-sink (loopback not in mynetworks). No spamd. With LISTS=1 also
// `permit_dnswl_client wl.test, reject_rbl_client bl.test` through Unbound to an rbldnsd of its own (the client is
// on neither list, so both are asked), as bench/smtp.ts's `mx` row does.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort, startRbldnsd, startRedis, startUnbound, waitForPort } from '@moat/testkit';
const W = `/tmp/moat-mx-profile-${process.pid}`;
mkdirSync(W, { recursive: true });
const redis = await startRedis();
const LISTS = process.env.LISTS === '1';
const rbl = LISTS ? await startRbldnsd({ zones: { 'bl.test': ':127.0.0.2:listed\n127.0.0.2', 'wl.test': ':127.0.0.2:listed\n127.0.0.2' } }) : undefined;
const unbound = await startUnbound({ stubZones: rbl ? { 'bl.test': rbl.stubAddr, 'wl.test': rbl.stubAddr } : {}, localZones: { 'example.': 'static', 'example.net.': 'static', 'example.org.': 'static', 'in-addr.arpa.': 'static' }, localData: ['mail.example.net. A 127.0.0.1', '1.0.0.127.in-addr.arpa. PTR mail.example.net.'] });
const sinkPort = await freePort();
const sink = spawn('smtp-sink', ['-u', 'nobody', `127.0.0.1:${sinkPort}`, '1024'], { stdio: 'ignore' });
const port = await freePort();
writeFileSync(`${W}/moat.yaml`, `version: 1
policy:
  hostname: mx.moat.example
  mynetworks: []
  recipient_restrictions: ${LISTS ? 'permit_dnswl_client wl.test, reject_rbl_client bl.test, ' : ''}reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname, reject_non_fqdn_sender, reject_unlisted_recipient, permit_mynetworks, check_policy_service inet:127.0.0.1:10023
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
dns:
  resolver: ${unbound.server}
greylist: { redis: { url: "${redis.url}" }, delay: 1s }
mx:
  tls: { state_dir: ${W}/tls }
  limits: { per_ip_concurrency: 5000, per_ip_rate: 10000000, max_connections: 5000 }
spamd: { enabled: false }
queue: { dir: ${W}/spool, transport: "smtp:[127.0.0.1]:${sinkPort}" }
metrics: { enabled: false }
`);
const main = process.argv[2] ?? '/work/wt/perf/apps/mx/dist/main.js';
const prof = process.argv[3];
const mx = spawn(process.execPath, ['--max-semi-space-size=4', ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), main, '--config', `${W}/moat.yaml`, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', openSync(`${W}/mx.log`, 'w'), openSync(`${W}/mx.err`, 'w')] });
await waitForPort(port, '127.0.0.1', 60_000);
const src = (m: number) => { try { execFileSync('smtp-source', ['-l', '10240', '-m', String(m), '-s', '20', '-M', 'mail.example.net', '-f', 'sender@sender.example', '-t', 'rcpt@example.org', `127.0.0.1:${port}`], { stdio: 'ignore' }); } catch (e) { console.error('smtp-source', (e as Error).message.slice(0, 200)); } };
src(20); await new Promise((r) => setTimeout(r, 2500)); // greylist pre-pass (delay 1 s)
src(300); // warm-up
const redisCli = (...a: string[]) => execFileSync('redis-cli', ['-p', String(redis.port), ...a]).toString();
redisCli('CONFIG', 'RESETSTAT');
const redisCpu = () => { const t = redisCli('INFO', 'cpu'); return Number(/used_cpu_sys:([\d.]+)/.exec(t)![1]) + Number(/used_cpu_user:([\d.]+)/.exec(t)![1]); };
const rcpu0 = redisCpu();
// utime + stime in clock ticks: the whole process, and its main (SMTP) thread alone (/proc/PID/task/PID)
const ticks = (f: string) => Number(readFileSync(f, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0));
const cpu0 = ticks(`/proc/${mx.pid}/stat`);
const smtp0 = ticks(`/proc/${mx.pid}/task/${mx.pid}/stat`);
// CPU ticks by thread name (comm): the SMTP thread is `node`'s main, the thread pool `libuv-worker`, V8's GC
// helpers `V8 Worker`, the delivery worker its own name
const byThread = () => {
  const out: Record<string, number> = {};
  for (const t of readdirSync(`/proc/${mx.pid}/task`)) {
    try {
      const name = t === String(mx.pid) ? 'smtp' : readFileSync(`/proc/${mx.pid}/task/${t}/comm`, 'utf8').trim();
      out[name] = (out[name] ?? 0) + ticks(`/proc/${mx.pid}/task/${t}/stat`);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
};
const threads0 = byThread();
const perf = spawn('perf', ['stat', '-x', ',', '-e', 'syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync', '-p', String(mx.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
let perfOut = ''; perf.stderr!.on('data', (d) => (perfOut += d));
await new Promise((r) => setTimeout(r, 500));
const t0 = performance.now();
const N = Number(process.argv[4] ?? 2000);
src(N);
const secs = (performance.now() - t0) / 1000;
const cpu1 = ticks(`/proc/${mx.pid}/stat`);
const smtp1 = ticks(`/proc/${mx.pid}/task/${mx.pid}/stat`);
const threads1 = byThread();
const threadCpuMsPerMsg = Object.fromEntries(Object.entries(threads1).map(([k, v]) => [k, +((((v - (threads0[k] ?? 0)) * 10) / N).toFixed(2))]));
// Redis commands per message (calls from INFO commandstats, the measured run only)
const redisCpuMs = +(((redisCpu() - rcpu0) * 1000) / N).toFixed(3);
const redisPerMsg = Object.fromEntries(redisCli('INFO', 'commandstats').split('\n').flatMap((l) => { const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(l); return m && m[1] !== 'info' && m[1] !== 'config|resetstat' ? [[m[1], +(Number(m[2]) / N).toFixed(2)]] : []; }));
perf.kill('SIGINT'); await new Promise((r) => perf.once('exit', r));
const sc = Object.fromEntries(perfOut.trim().split('\n').map((l) => l.split(',')).filter((f) => f[2]?.startsWith('syscalls')).map((f) => [f[2]!.replace('syscalls:sys_enter_', ''), +(Number(f[0]) / N).toFixed(2)]));
console.log(JSON.stringify({ main, perMsg: sc, redisPerMsg, redisCpuMsPerMsg: redisCpuMs, msgs: N, secs: +secs.toFixed(1), rate: +(N / secs).toFixed(1), cpuMsPerMsg: +(((cpu1 - cpu0) * 10) / N).toFixed(2), smtpThreadCpuMsPerMsg: +(((smtp1 - smtp0) * 10) / N).toFixed(2), threadCpuMsPerMsg }));
mx.kill('SIGTERM'); await new Promise((r) => mx.once('exit', r));
sink.kill();
await redis.stop();
await unbound.stop();
await rbl?.stop();
if (!process.env.KEEP) rmSync(W, { recursive: true, force: true });
else console.error(`kept ${W}`);
process.exit(0);
