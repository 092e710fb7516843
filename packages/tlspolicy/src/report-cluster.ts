// TLS-RPT in a cluster: each node's outcome counts per UTC day, shared through the cluster's Redis, so the one node
// that sends a day's reports (tls-report-timer's lock) reports every node's sessions. Trusts the shared Redis with
// counts only; each node's own outcome files (outcomes.ts) stay the truth and are pushed again after an outage.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, type Logger, type Registry } from '@moat/observe';
import { dayOf, type TlsOutcome } from './outcomes.ts';

/**
 * `moat:tlsrpt:counts:DAY`: a hash, one field per node (its id), the value that node's whole count of the day (JSON:
 * `{ v: 1, counts: [[key, n], ...], skipped }`). Each push replaces the node's field, so a push repeated after Redis
 * was down counts nothing twice; one key per day, so Redis Cluster needs no hash tag. Kept three days.
 */
export const TLSRPT_COUNTS_PREFIX = 'moat:tlsrpt:counts:';
const TTL_SECONDS = 3 * 86_400;
const PUSH = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[3]) return 1";

/** What the counts need of Redis (ioredis's `eval` and `hgetall`). */
export interface CountsRedis {
  eval(script: string, keys: number, ...args: string[]): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
}

/**
 * An outcome as the report sees it (no time): the field of one count. A success is only summed per policy
 * (RFC 8460 4.4 total-successful-session-count), so its MX host, IP and detail are left out: one field per policy,
 * not one per MX host and address.
 */
export function countKey(o: TlsOutcome): string {
  const failure = o.result !== 'success';
  return JSON.stringify([
    o.policyDomain,
    o.policyType,
    o.policyString ?? [],
    o.mxPatterns ?? [],
    o.result,
    failure ? (o.mxHost ?? '') : '',
    failure ? (o.receivingIp ?? '') : '',
    failure ? (o.detail ?? '').slice(0, 200) : '',
  ]);
}

function fromKey(key: string, count: number): TlsOutcome | undefined {
  try {
    const [policyDomain, policyType, policyString, mxPatterns, result, mxHost, receivingIp, detail] = JSON.parse(key) as [string, TlsOutcome['policyType'], string[], string[], TlsOutcome['result'], string, string, string];
    if (typeof policyDomain !== 'string' || typeof result !== 'string') return undefined;
    return { policyDomain, policyType, result, count, ...(policyString.length ? { policyString } : {}), ...(mxPatterns.length ? { mxPatterns } : {}), ...(mxHost ? { mxHost } : {}), ...(receivingIp ? { receivingIp } : {}), ...(detail ? { detail } : {}) };
  } catch {
    return undefined;
  }
}

/** This spool's node id (`DIR/node-id`, made once): it travels with the outcome files, whatever the host is called. */
async function nodeId(dir: string): Promise<string> {
  const file = join(dir, 'node-id');
  const read = async () => (await readFile(file, 'utf8')).trim();
  try {
    return await read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(file, `${randomBytes(8).toString('hex')}\n`, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return read();
}

/**
 * A day's counts from this node's file, read on from where the last call stopped (the file only grows; a smaller
 * file was replaced and is read again from the start). Days more than three before the asked one are forgotten.
 */
export function localCounts(dir: string) {
  const days = new Map<string, { offset: number; counts: Map<string, number>; skipped: number }>();
  return async (day: string): Promise<{ counts: Map<string, number>; skipped: number; changed: boolean }> => {
    let st = days.get(day);
    if (!st) days.set(day, (st = { offset: 0, counts: new Map(), skipped: 0 }));
    for (const d of days.keys()) if (d < dayOf(Date.parse(`${day}T00:00:00Z`) - 3 * 86_400_000)) days.delete(d);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(join(dir, `${day}.jsonl`), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { counts: st.counts, skipped: st.skipped, changed: false };
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      if (size < st.offset) Object.assign(st, { offset: 0, counts: new Map(), skipped: 0 }); // replaced: start over
      if (size === st.offset) return { counts: st.counts, skipped: st.skipped, changed: false };
      const buf = Buffer.alloc(size - st.offset);
      await fh.read(buf, 0, buf.length, st.offset);
      const end = buf.lastIndexOf(0x0a) + 1; // a line still being written waits for the next call
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const o = JSON.parse(line) as TlsOutcome;
          if (typeof o.policyDomain !== 'string' || typeof o.result !== 'string') throw new Error('not an outcome');
          const k = countKey(o);
          st.counts.set(k, (st.counts.get(k) ?? 0) + 1);
        } catch {
          st.skipped++;
        }
      }
      st.offset += end;
      return { counts: st.counts, skipped: st.skipped, changed: end > 0 };
    } finally {
      await fh.close();
    }
  };
}

export interface ClusterOutcomes {
  /** Push this node's count of `day` to Redis (rejects when Redis cannot be reached). */
  push(day: string, force?: boolean): Promise<void>;
  /** Every node's outcomes of `day`, this node's pushed first: what the day's report is built from. */
  read(day: string): Promise<{ outcomes: TlsOutcome[]; skipped: number; nodes: number }>;
  /** Push today and yesterday every `everyMs` when they changed (or the last push failed); `stop()` ends it. */
  start(everyMs: number): { stop(): void };
}

export function clusterOutcomes(o: { dir: string; redis: CountsRedis; logger?: Logger | undefined; registry?: Registry | undefined; now?: () => number }): ClusterOutcomes {
  const now = o.now ?? Date.now;
  const local = localCounts(o.dir);
  const pushes = o.registry
    ? new Counter({ name: 'moat_tlsrpt_pushes_total', help: "Pushes of this node's TLS-RPT counts to the cluster's Redis, by result (ok, failed: kept locally, pushed again later)", labelNames: ['result'], registers: [o.registry] })
    : undefined;
  let id: Promise<string> | undefined;
  const pending = new Set<string>();
  let failing = false;

  async function push(day: string, force = false): Promise<void> {
    id ??= nodeId(o.dir).catch((e) => {
      id = undefined;
      throw e;
    });
    const node = await id;
    const { counts, skipped, changed } = await local(day);
    if (!changed && !force && !pending.has(day)) return;
    if (counts.size === 0 && skipped === 0) return;
    pending.add(day);
    try {
      await o.redis.eval(PUSH, 1, `${TLSRPT_COUNTS_PREFIX}${day}`, node, JSON.stringify({ v: 1, counts: [...counts], skipped }), String(TTL_SECONDS));
    } catch (e) {
      pushes?.inc({ result: 'failed' });
      if (!failing) o.logger?.warn({ event: 'tlsrpt', day, node, err: (e as Error).message }, 'TLS-RPT counts not pushed to Redis: kept locally, pushed again when it is back');
      failing = true;
      throw e;
    }
    pending.delete(day);
    pushes?.inc({ result: 'ok' });
    if (failing) o.logger?.info({ event: 'tlsrpt', day, node }, 'TLS-RPT counts pushed to Redis again');
    failing = false;
  }

  return {
    push,
    async read(day) {
      await push(day, true);
      const all = await o.redis.hgetall(`${TLSRPT_COUNTS_PREFIX}${day}`);
      const merged = new Map<string, number>();
      let skipped = 0;
      let nodes = 0;
      for (const [node, text] of Object.entries(all)) {
        try {
          const v = JSON.parse(text) as { v: number; counts: Array<[string, number]>; skipped: number };
          for (const [k, n] of v.counts) if (Number.isSafeInteger(n) && n > 0) merged.set(k, (merged.get(k) ?? 0) + n);
          skipped += Number.isSafeInteger(v.skipped) ? v.skipped : 0;
          nodes++;
        } catch {
          o.logger?.warn({ event: 'tlsrpt', day, node }, 'unreadable TLS-RPT counts in Redis: skipped');
        }
      }
      const outcomes: TlsOutcome[] = [];
      for (const [k, n] of merged) {
        const x = fromKey(k, n);
        if (x) outcomes.push(x);
        else skipped += n;
      }
      return { outcomes, skipped, nodes };
    },
    start(everyMs) {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = async () => {
        const today = dayOf(now());
        for (const day of [dayOf(now() - 86_400_000), today]) await push(day).catch(() => undefined);
        if (!stopped) timer = setTimeout(() => void tick(), everyMs).unref();
      };
      timer = setTimeout(() => void tick(), 0).unref();
      return {
        stop() {
          stopped = true;
          clearTimeout(timer);
        },
      };
    },
  };
}
