// TLS-RPT in a cluster: two nodes record their own sessions, push their counts to one real redis-server (one of them
// while Redis is down first), and both run the daily send: one report, with every node's sessions, queued once.
import { gunzipSync } from 'node:zlib';
import { createLogger, createRegistry } from '@moat/observe';
import type { EnqueueInput } from '@moat/queue';
import { connectRedis, type RedisClient } from '@moat/redis';
import { freePort, startRedis, tmpDir } from '@moat/testkit';
import { clusterOutcomes, type CountsRedis, outcomeRecorder, type TlsOutcome, TLSRPT_COUNTS_PREFIX } from '@moat/tlspolicy';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisDayLock, tlsReportSender } from '../src/tls-report-timer.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: Awaited<ReturnType<typeof startRedis>>;
const clients: RedisClient[] = [];

beforeAll(async () => {
  dir = await tmpDir('mx-tlsrpt-cluster');
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
  await dir?.remove();
});

const DAY = '2026-12-06';
const at = Date.parse(`${DAY}T12:00:00Z`);
const sts: Omit<TlsOutcome, 'result'> = { policyDomain: 'asks.example', policyType: 'sts', policyString: ['version: STSv1', 'mode: enforce', 'mx: mx.asks.example', 'max_age: 86400'], mxPatterns: ['mx.asks.example'], mxHost: 'mx.asks.example', receivingIp: '192.0.2.1', at };

async function client(url: string, name: string): Promise<RedisClient> {
  const c = connectRedis({ url }, { connectionName: name, connectTimeoutMs: 2000 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** One node's outcome files, as its delivery thread writes them. */
async function record(path: string, outcomes: TlsOutcome[]): Promise<void> {
  const rec = outcomeRecorder({ dir: path });
  for (const o of outcomes) rec.record(o);
  await rec.flush();
}

function reportOf(input: EnqueueInput): { policies: Array<{ summary: Record<string, number>; 'failure-details'?: Array<Record<string, unknown>> }> } {
  const text = (input.message as Buffer).toString('latin1');
  const body = text.slice(text.indexOf('\r\n\r\n', text.indexOf('application/tlsrpt+gzip')) + 4, text.lastIndexOf('\r\n--'));
  return JSON.parse(gunzipSync(Buffer.from(body.replace(/\s+/g, ''), 'base64')).toString('utf8'));
}

it('every node pushes its counts to Redis (again after an outage, never twice) and one node reports them all', async () => {
  const a = { dir: `${dir.path}/a/tlsrpt`, redis: await client(redis.url, 'moat-a-tlsrpt'), registry: createRegistry() };
  const live = await client(redis.url, 'moat-b-tlsrpt');
  const dead = await client(`redis://127.0.0.1:${await freePort()}`, 'moat-b-dead');
  let down = true;
  // node b's Redis: unreachable first (a real refused connection), then the shared one
  const bRedis: CountsRedis = {
    eval: (script, keys, ...args) => (down ? dead : live).eval(script, keys, ...args),
    hgetall: (key) => (down ? dead : live).hgetall(key),
  };
  const b = { dir: `${dir.path}/b/tlsrpt`, redis: bRedis, registry: createRegistry() };
  await record(a.dir, [{ ...sts, result: 'success' }, { ...sts, result: 'success' }, { ...sts, result: 'starttls-not-supported', detail: 'no STARTTLS' }]);
  await record(b.dir, [{ ...sts, result: 'success' }, { ...sts, result: 'certificate-expired', detail: 'expired', receivingIp: '192.0.2.2' }]);
  const logger = createLogger('test', { level: 'silent' });
  const ca = clusterOutcomes({ dir: a.dir, redis: a.redis, logger, registry: a.registry });
  const cb = clusterOutcomes({ dir: b.dir, redis: b.redis, logger, registry: b.registry });
  await ca.push(DAY);
  await ca.push(DAY, true); // pushed again: replaces, does not add
  await expect(cb.push(DAY)).rejects.toThrow();
  expect(await b.registry.getSingleMetricAsString('moat_tlsrpt_pushes_total')).toMatch(/result="failed"\} 1/);
  // b keeps counting while Redis is down; its next push carries everything
  await record(b.dir, [{ ...sts, result: 'success' }]);
  down = false;
  await cb.push(DAY);
  expect(Object.keys(await a.redis.hgetall(`${TLSRPT_COUNTS_PREFIX}${DAY}`))).toHaveLength(2);
  const ttl = await a.redis.ttl(`${TLSRPT_COUNTS_PREFIX}${DAY}`);
  expect(ttl).toBeGreaterThan(2 * 86_400);
  expect(ttl).toBeLessThanOrEqual(3 * 86_400);

  // both nodes run the day's send at once: one takes the day, and its report holds both nodes' sessions
  const queued: Array<{ node: string; input: EnqueueInput }> = [];
  const sender = (node: string, d: string, c: RedisClient, read: (day: string) => ReturnType<typeof ca.read>) =>
    tlsReportSender({
      dir: d,
      hostname: `${node}.moat.test`,
      organization: 'moat.test',
      contact: 'mailto:postmaster@moat.test',
      txt: async (n) => (n === '_smtp._tls.asks.example' ? ['v=TLSRPTv1; rua=mailto:tls@asks.example'] : []),
      enqueue: async (input) => {
        queued.push({ node, input });
        return { id: `${node}-1` };
      },
      lock: redisDayLock(c, node),
      read,
      logger,
      registry: createRegistry(),
    });
  await Promise.all([sender('a', a.dir, a.redis, (d) => ca.read(d))(DAY), sender('b', b.dir, live, (d) => cb.read(d))(DAY)]);
  expect(queued).toHaveLength(1);
  expect(queued[0]!.input.recipients).toEqual(['tls@asks.example']);
  const report = reportOf(queued[0]!.input);
  expect(report.policies).toHaveLength(1);
  expect(report.policies[0]!.summary).toEqual({ 'total-successful-session-count': 4, 'total-failure-session-count': 2 });
  expect(report.policies[0]!['failure-details']).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ 'result-type': 'starttls-not-supported', 'receiving-ip': '192.0.2.1', 'failed-session-count': 1 }),
      expect.objectContaining({ 'result-type': 'certificate-expired', 'receiving-ip': '192.0.2.2', 'failed-session-count': 1 }),
    ]),
  );
});
