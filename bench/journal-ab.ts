// A/B of two journal implementations in one process, rounds alternating: CPU per op of this process and of
// redis-server (INFO cpu), for turns of PER_TURN appends (plus a queue-id link every fourth turn), as the MX makes them.
//   cp <old journal.ts> packages/journal/src/journal-old.ts   (its relative imports resolve there; do not commit it)
//   ROUNDS=6 PER_TURN=4 npm exec -- node bench/journal-ab.ts packages/journal/src/journal-old.ts
// Prints new/old per round: the pair ran back to back, so the ratio is steadier than either figure under load.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createLogger, createRegistry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { startRedis } from '@moat/testkit';
import { createJournal } from '../packages/journal/src/journal.ts';

const old = (await import(resolve(process.argv[2]!))) as { createJournal: typeof createJournal };
const redis = await startRedis();
const logger = createLogger('bench', { level: 'silent' });
const verdict: Verdict = {
  action: 'continue',
  status: '2.0.0',
  text: '',
  prepend: [],
  trace: [
    { restriction: 'reject_unlisted_recipient', list: 'recipient', outcome: 'dunno', ms: 0.1 },
    { restriction: 'check_policy_service inet:127.0.0.1:10023', list: 'recipient', outcome: 'dunno', ms: 0.9 },
  ],
};
const facts = (i: number): Facts => ({ stage: 'rcpt', clientAddress: '192.0.2.1', helo: 'mail.example.net', sender: 's@example.net', recipient: 'r@example.org', tls: false, sessionId: `S${i}` });
const redisCpu = () => {
  const t = execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'cpu']).toString();
  return Number(/used_cpu_sys:([\d.]+)/.exec(t)![1]) + Number(/used_cpu_user:([\d.]+)/.exec(t)![1]);
};
const PER_TURN = Number(process.env.PER_TURN ?? 4);
const TURNS = Number(process.env.TURNS ?? 4000);

async function one(make: typeof createJournal): Promise<{ node: number; redis: number }> {
  const j = make({ redis: { url: redis.url }, registry: createRegistry(), logger, timeoutMs: 5000 });
  await j.ping();
  const r0 = redisCpu();
  const c0 = process.cpuUsage();
  let n = 0;
  for (let t = 0; t < TURNS; t++) {
    for (let k = 0; k < PER_TURN; k++) j.record(facts(n++), verdict);
    if (t % 4 === 3) j.linkQueueId(`S${n - 1}`, `Q${n}`);
    await new Promise((r) => setImmediate(r));
  }
  await j.flush();
  const c = process.cpuUsage(c0);
  const r = redisCpu() - r0;
  await j.close();
  return { node: (c.user + c.system) / n, redis: (r * 1e6) / n };
}

for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  const a = await one(old.createJournal);
  const b = await one(createJournal);
  console.log(`round ${round + 1}: node µs/op ${b.node.toFixed(1)} / ${a.node.toFixed(1)} = ${(b.node / a.node).toFixed(2)}; redis µs/op ${b.redis.toFixed(1)} / ${a.redis.toFixed(1)} = ${(b.redis / a.redis).toFixed(2)}`);
}
await redis.stop();
process.exit(0);
