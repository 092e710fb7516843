// Bench: the queue's hand-written SMTP client (packages/queue smtpSend) against nodemailer's SMTPConnection,
// delivering the same messages to Postfix's smtp-sink on loopback, rounds interleaved A/B in one run.
// Run: npm exec -- node bench/smtp-client.ts   (writes docs/bench-smtp-client.md). nodemailer is a bench-only devDependency.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { closeCachedSessions, smtpSend } from '@moat/queue';
import { freePort, waitForPort } from '@moat/testkit';

const N = Number(process.env.MESSAGES ?? 1000);
const SIZE = Number(process.env.SIZE ?? 4096);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

interface Connection {
  connect(cb: (err?: Error) => void): void;
  send(envelope: { from: string; to: string[] }, message: Buffer, cb: (err: Error | null, info: { accepted: string[] }) => void): void;
  reset(cb: (err?: Error) => void): void;
  quit(): void;
  close(): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
const SMTPConnection = createRequire(import.meta.url)('nodemailer/lib/smtp-connection') as new (o: Record<string, unknown>) => Connection;

const head = 'From: bench@sender.test\r\nTo: rcpt@example.test\r\nSubject: bench\r\n\r\n';
const message = Buffer.from(head + `${'x'.repeat(76)}\r\n`.repeat(Math.max(1, Math.floor((SIZE - head.length) / 78))));

async function sink(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const p = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', '-m', '256', `127.0.0.1:${port}`, '256'], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    async stop() {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    },
  };
}

async function pool(n: number, work: () => Promise<void>): Promise<void> {
  let left = N;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (left-- > 0) await work();
    }),
  );
}

const hand = (port: number, reuse: boolean) => async () => {
  const r = await smtpSend({ host: '127.0.0.1', port, heloName: 'bench.test', starttls: 'never', sender: 'bench@sender.test', recipients: ['rcpt@example.test'], message, reuse });
  if (r.results[0]?.status !== 'sent') throw new Error(`hand client: ${r.results[0]?.response}`);
};

function open(port: number): Promise<Connection> {
  const c = new SMTPConnection({ host: '127.0.0.1', port, name: 'bench.test', ignoreTLS: true, secure: false });
  return new Promise((resolve, reject) => {
    c.on('error', reject);
    c.connect((e) => (e ? reject(e) : resolve(c)));
  });
}
function send(c: Connection): Promise<void> {
  return new Promise((resolve, reject) => c.send({ from: 'bench@sender.test', to: ['rcpt@example.test'] }, message, (e, info) => (e || info.accepted.length !== 1 ? reject(e ?? new Error('not accepted')) : resolve())));
}

/** nodemailer, one connection per message (as the hand client without its session cache). */
const nmFresh = (port: number) => async () => {
  const c = await open(port);
  await send(c);
  c.quit();
};

/** nodemailer, one kept connection per worker with RSET between messages (as the hand client's cache). */
async function nmKept(port: number): Promise<void> {
  let left = N;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const c = await open(port);
      while (left-- > 0) {
        await send(c);
        await new Promise<void>((r, j) => c.reset((e) => (e ? j(e) : r())));
      }
      c.quit();
    }),
  );
}

const rates = new Map<string, number[]>();
async function measure(what: string, run: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await run();
  const rate = N / ((performance.now() - t0) / 1000);
  rates.set(what, [...(rates.get(what) ?? []), rate]);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const s = await sink();
try {
  for (let round = 0; round < ROUNDS; round++) {
    // interleaved, so a burst of load from other sessions hits both sides
    await measure('hand, new connection', () => pool(CONCURRENCY, hand(s.port, false)));
    await measure('nodemailer, new connection', () => pool(CONCURRENCY, nmFresh(s.port)));
    await measure('hand, session cache', () => pool(CONCURRENCY, hand(s.port, true)));
    closeCachedSessions();
    await measure('nodemailer, kept connection + RSET', () => nmKept(s.port));
  }
} finally {
  closeCachedSessions();
  await s.stop();
}

const m = (k: string) => median(rates.get(k) ?? []);
const rows = [...rates].map(([k, v]) => `| ${k} | ${Math.round(median(v))} | ${v.map((x) => Math.round(x)).join(', ')} |`);
const md = `# Bench: the queue's SMTP client against nodemailer's SMTPConnection

\`npm exec -- node bench/smtp-client.ts\` (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)} at
the end: other sessions were using the machine, so only the ratios of this one run count). ${N} messages of ~${SIZE}
bytes per row and round, ${CONCURRENCY} at a time, to Postfix's smtp-sink on loopback; ${ROUNDS} rounds, A/B interleaved.

| client | median msg/s | rounds |
| --- | ---: | --- |
${rows.join('\n')}

Ratios (hand / nodemailer): new connection per message **${(m('hand, new connection') / m('nodemailer, new connection')).toFixed(2)}**,
kept sessions **${(m('hand, session cache') / m('nodemailer, kept connection + RSET')).toFixed(2)}**.
`;
await writeFile(new URL('../docs/bench-smtp-client.md', import.meta.url), md);
process.stdout.write(md);
