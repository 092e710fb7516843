// Bench: the MX with SpamAssassin on every message against spamd alone (a spamc-like client: one connection
// per message, SPAMC/1.5 CHECK, the MX's own command), same spamd, same message, same concurrency, same run.
// Loopback only: a private spamd (-L), redis-server and an Unbound answering NXDOMAIN for the test domains.
//
//   npm exec -- node bench/spamd.ts [--messages 40] [--rounds 3] [--concurrency 4] [--size 10240] [--no-build]
//
// The MX runs as shipped (apps/mx/dist/main.js) with --no-delivery (accepting, scanning, spooling with fsync):
// loopback is in mynetworks, so the engine permits at RCPT and spamd decides the rate. Rounds alternate between
// the two rows so the machine's noise hits both alike; the figure to read is the MX's share of spamd alone.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startRedis, startSpamd, startUnbound, waitForPort } from '@moat/testkit';
import { spamcCheck } from './spamc.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    size: { type: 'string', default: '10240' },
    'no-build': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const CONC = Number(values.concurrency);
const REPO = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const WORK = `/tmp/moat-bench-spamd-${process.pid}`;
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/** A plain text message of about `size` octets (smtp-source -l style: headers, then 80-octet lines). */
function message(n: number, size: number): Buffer {
  const head = `From: <sender@sender.example>\r\nTo: <rcpt@example.org>\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <bench-${n}-${Date.now()}@sender.example>\r\nSubject: bench message ${n}\r\n\r\n`;
  const line = 'La la la. The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijk.\r\n';
  return Buffer.from(head + line.repeat(Math.max(1, Math.ceil((size - head.length) / line.length))), 'latin1');
}

/** One SMTP session delivering one message (smtp-source's pattern); resolves on the 250 after DATA. */
function smtpSend(port: number, msg: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect({ port, host: '127.0.0.1' });
    const steps = ['EHLO client.sender.example', 'MAIL FROM:<sender@sender.example>', 'RCPT TO:<rcpt@example.org>', 'DATA'];
    let buf = '';
    let step = 0;
    s.setEncoding('latin1');
    s.once('error', reject);
    s.on('data', (d: string) => {
      buf += d;
      const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buf);
      if (!m) return;
      const code = m[1]!;
      buf = '';
      if (step < steps.length) {
        const want = step === 0 ? '220' : '250';
        if (code !== want) return reject(new Error(`${steps[step - 1] ?? 'greeting'}: ${code}`));
        s.write(`${steps[step++]}\r\n`);
      } else if (step === steps.length) {
        if (code !== '354') return reject(new Error(`DATA: ${code}`));
        step++;
        s.write(msg);
        s.write('\r\n.\r\n');
      } else {
        s.end('QUIT\r\n');
        if (code === '250') resolve();
        else reject(new Error(`end of data: ${code}`));
      }
    });
  });
}

/** `n` messages through `send` with `CONC` in flight; messages per second. */
async function drive(n: number, send: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < n) await send(next++);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function main() {
  mkdirSync(WORK, { recursive: true });
  const spamd = await startSpamd({ maxChildren: 2 });
  const redis = await startRedis();
  const unbound = await startUnbound({ stubZones: {}, localZones: { 'example.': 'static' } });
  let mx: ReturnType<typeof spawn> | undefined;
  try {
    log(`spamd on ${spamd.port}`);
    if (!values['no-build']) execFileSync('npm', ['run', 'build', '-w', '@moat/mx'], { cwd: REPO, stdio: 'ignore' });
    const cfg = join(WORK, 'moat.yaml');
    writeFileSync(
      cfg,
      `version: 1
policy:
  hostname: mx.moat.example
  mynetworks: [127.0.0.0/8]
  recipient_restrictions: reject_unlisted_recipient, permit_mynetworks, reject
recipients:
  domains: [example.org]
  catch_all: [example.org]
dns:
  resolver: ${unbound.server}
greylist: { redis: { url: "${redis.url}" } }
mx:
  tls: { state_dir: ${WORK}/tls }
spamd: { enabled: true, host: 127.0.0.1, port: ${spamd.port}, timeout: 60s }
queue: { dir: ${WORK}/spool, transport: "smtp://127.0.0.1:9" }
metrics: { enabled: false }
`,
    );
    const port = await freePort();
    mx = spawn(process.execPath, ['--max-semi-space-size=4', join(REPO, 'apps/mx/dist/main.js'), '--config', cfg, '--listen', `127.0.0.1:${port}`, '--no-delivery'], {
      env: { ...process.env, MOAT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', openSync(join(WORK, 'mx.log'), 'w'), openSync(join(WORK, 'mx.log'), 'a')],
    });
    await waitForPort(port, '127.0.0.1', 30_000);
    const size = Number(values.size);
    // warm-up: spamd's children load their rules, the MX's JIT
    await drive(CONC * 2, (i) => spamcCheck(spamd.port, message(i, size)));
    await drive(CONC * 2, (i) => smtpSend(port, message(i, size)));
    const rows: Array<{ round: number; alone: number; mx: number }> = [];
    for (let round = 1; round <= Number(values.rounds); round++) {
      const alone = await drive(MESSAGES, (i) => spamcCheck(spamd.port, message(i, size)));
      const viaMx = await drive(MESSAGES, (i) => smtpSend(port, message(i, size)));
      rows.push({ round, alone, mx: viaMx });
      log(`round ${round}: spamd alone ${alone.toFixed(1)} msg/s, mx with spamd ${viaMx.toFixed(1)} msg/s (${(viaMx / alone).toFixed(2)}x)`);
    }
    console.log(`| round | spamd alone (CHECK, ${CONC} in flight) msg/s | mx with spamd on every message msg/s | mx / spamd alone |`);
    console.log('|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.round} | ${r.alone.toFixed(1)} | ${r.mx.toFixed(1)} | ${(r.mx / r.alone).toFixed(2)}x |`);
    const sum = (k: 'alone' | 'mx') => rows.reduce((a, r) => a + r[k], 0);
    console.log(`\nall rounds: mx at ${(sum('mx') / sum('alone')).toFixed(2)}x spamd alone (${MESSAGES} messages of ${size} octets per row and round)`);
  } finally {
    mx?.kill('SIGTERM');
    await unbound.stop();
    await redis.stop();
    await spamd.close();
    rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
