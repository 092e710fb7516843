// Bench: greylist decisions per second and latency against a local redis-server, at 1 and 32
// concurrent callers, with a bare Redis PING at the same concurrency as the in-run anchor (the floor
// of one round trip). Loopback only, bounded by count and time.
// Run: npm exec -- node bench/greylist.ts   (writes docs/bench-greylist.md)
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createGreylist } from '@moat/greylist';
import { createLogger, createRegistry } from '@moat/observe';
import { startRedis } from '@moat/testkit';

const DECISIONS = Number(process.env.DECISIONS ?? 20_000);
const MAX_MS = Number(process.env.MAX_MS ?? 15_000);
const CONCURRENCY = [1, 32];

/** A minimal RESP client on one socket (pipelined, replies in order), so the anchor needs no library. */
function resp(port: number): Promise<{ cmd(...args: string[]): Promise<string>; close(): void }> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect({ port, host: '127.0.0.1' });
    const waiting: ((s: string) => void)[] = [];
    let buf = '';
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        let end: number;
        if (buf[0] === '$') {
          const nl = buf.indexOf('\r\n');
          if (nl < 0) return;
          const len = Number(buf.slice(1, nl));
          end = len < 0 ? nl + 2 : nl + 2 + len + 2;
          if (buf.length < end) return;
        } else {
          const nl = buf.indexOf('\r\n');
          if (nl < 0) return;
          end = nl + 2;
        }
        const reply = buf.slice(0, end);
        buf = buf.slice(end);
        waiting.shift()?.(reply);
      }
    });
    sock.once('error', reject);
    sock.once('connect', () =>
      resolve({
        cmd: (...args) =>
          new Promise((res) => {
            waiting.push(res);
            sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
          }),
        close: () => sock.destroy(),
      }),
    );
  });
}

async function commandCalls(c: { cmd(...a: string[]): Promise<string> }): Promise<Record<string, number>> {
  const info = await c.cmd('INFO', 'commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

interface Row {
  what: string;
  concurrency: number;
  ops: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function drive(what: string, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Row> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < DECISIONS && performance.now() - t0 < MAX_MS) {
      const i = next++;
      const s = performance.now();
      await op(i);
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { what, concurrency, ops: lat.length, perSecond: lat.length / secs, p50: q(0.5), p99: q(0.99) };
}

const redis = await startRedis();
const admin = await resp(redis.port);
const gl = createGreylist({
  redis: { url: redis.url },
  registry: createRegistry(),
  logger: createLogger('bench', { level: 'silent' }),
  timeoutMs: 1000,
  defaultWhitelist: false,
});
await gl.ping();

const rows: Row[] = [];
const trips: { concurrency: number; perDecision: number }[] = [];
try {
  for (const c of CONCURRENCY) {
    // Anchor: one bare PING round trip per op on one pipelined connection (like ioredis).
    const ping = await resp(redis.port);
    rows.push(await drive('redis PING (anchor)', c, () => ping.cmd('PING')));
    ping.close();
    await admin.cmd('FLUSHALL');
    await admin.cmd('CONFIG', 'RESETSTAT');
    // Half the calls see a new triplet (defer), half repeat one already seen (defer again, counted).
    const row = await drive('greylist check()', c, (i) =>
      gl.check({
        clientAddress: `198.51.${(i >> 8) & 255}.${i & 255}`,
        sender: `sender${i >> 1}@bench.example`,
        recipient: 'rcpt@moat.example',
      }),
    );
    const calls = await commandCalls(admin);
    const scripts = (calls.evalsha ?? 0) + (calls.eval ?? 0);
    trips.push({ concurrency: c, perDecision: scripts / row.ops });
    rows.push(row);
  }
} finally {
  await gl.close();
  admin.close();
  await redis.stop();
}

const f = (n: number, d = 0) => n.toFixed(d);
const table = [
  '| what | callers | ops | ops/s | p50 ms | p99 ms | vs PING ops/s |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const anchor = rows.find((a) => a.concurrency === r.concurrency && a.what.startsWith('redis PING'));
    return `| ${r.what} | ${r.concurrency} | ${r.ops} | ${f(r.perSecond)} | ${f(r.p50, 3)} | ${f(r.p99, 3)} | ${anchor ? f(r.perSecond / anchor.perSecond, 2) : '-'} |`;
  }),
].join('\n');
const tripLines = trips.map((t) => `- ${t.concurrency} caller(s): ${t.perDecision.toFixed(3)} script calls (EVALSHA/EVAL) per decision, counted by INFO commandstats`).join('\n');
console.log(table);
console.log(tripLines);

const md = `# Bench: greylist decisions against a local Redis

Measured by \`npm exec -- node bench/greylist.ts\` on ${new Date().toISOString().slice(0, 10)}:
${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load ${loadavg()[0]?.toFixed(2)} at the end, Node ${process.version},
one \`redis-server\` on 127.0.0.1 started by the bench (\`--save '' --appendonly no\`), Redis TIME as the clock,
no SPF (no resolver configured: the bench measures the store path), default whitelist off so every call reaches Redis.
At most ${DECISIONS} calls or ${MAX_MS / 1000} s per row. Half the calls are new triplets, half repeats.

${table}

Round trips per decision:

${tripLines}

Reading it:
- The anchor is a bare \`PING\` on one pipelined connection at the same concurrency, run in the same
  process: the floor for anything that makes one Redis round trip. The last column is greylist ops/s
  over PING ops/s.
- Every decision is exactly one EVALSHA (the Lua script reads the triplet and the auto-whitelist
  counter, decides on Redis's clock, writes both and sets TTLs), so the greylist costs one round trip
  plus the script's few hash operations.
- postgrey's figure is the policyd bench's job (it goes through the Postfix policy protocol, which
  adds a socket exchange per request on both sides); compare there, not here.
- Numbers are for a 2-core VM shared with the Redis server itself; absolute values move with the
  machine, the one-round-trip property does not.
`;
await writeFile(new URL('../docs/bench-greylist.md', import.meta.url), md);
console.log('wrote docs/bench-greylist.md');
