// The daily TLS-RPT send inside the stack (queue.tls.report_send): at report_time UTC the delivery thread builds
// yesterday's reports and queues them, as `moat tls report --send` does. Trusts the resolver's rua and the Redis lock.
import { Counter, type Logger, type Registry } from '@moat/observe';
import type { EnqueueInput } from '@moat/queue';
import { collectDailyReports, dailyReportMessages, REPORT_ENVELOPE, startDailyTimer, type TlsOutcome } from '@moat/tlspolicy';

/** The queue.tls settings that decide the delivery thread's TLS-RPT duties. */
export interface TlsReportSettings {
  dane: boolean;
  mta_sts: boolean;
  security_level: string;
  policies: Readonly<Record<string, unknown>>;
  report_send?: boolean | undefined;
  report_organization?: string | undefined;
  report_contact?: string | undefined;
}

/**
 * What this node does for TLS-RPT. `record`: MX deliveries go through the outbound TLS policy, which records
 * each session's outcome (the same test as the delivery thread's tlsPolicy). `push`: those counts go to the
 * shared Redis, on every node that records, whether or not it sends, so the sending node reports them all.
 * `send`: the daily send (queue.tls.report_send; default on when an organization or contact is set).
 */
export function tlsReportDuties(tls: TlsReportSettings): { record: boolean; push: boolean; send: boolean } {
  const record = tls.dane || tls.mta_sts || !['may', 'dane'].includes(tls.security_level) || Object.keys(tls.policies).length > 0;
  const send = tls.report_send ?? (tls.report_organization !== undefined || tls.report_contact !== undefined);
  return { record, push: record || send, send };
}

/**
 * One sender per day in a cluster: the first node with reports to send takes `moat:tlsrpt:sent:DAY` (SET NX,
 * kept two days); the others, and this node after a restart, skip that day. Nodes with nothing to send never
 * take it, so a backup with no outbound sessions cannot steal the day from the node that has them.
 */
export interface DayLock {
  /** true when this caller now owns the day; rejects when the store is unreachable (the run is retried). */
  claim(day: string): Promise<boolean>;
  /** Give the day back (nothing was queued): the next hourly retry, here or on another node, takes it. */
  release(day: string): Promise<void>;
}

export const TLSRPT_LOCK_PREFIX = 'moat:tlsrpt:sent:';


/** The lock on the shared Redis (anything with ioredis's `set`). */
export function redisDayLock(
  redis: { set(key: string, value: string, ex: 'EX', seconds: number, nx: 'NX'): Promise<unknown>; eval(script: string, keys: number, ...args: string[]): Promise<unknown> },
  node: string,
): DayLock {
  return {
    async claim(day) {
      return (await redis.set(`${TLSRPT_LOCK_PREFIX}${day}`, node, 'EX', 2 * 86_400, 'NX')) === 'OK';
    },
    async release(day) {
      // only our own claim: another node's stays
      await redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, `${TLSRPT_LOCK_PREFIX}${day}`, node);
    },
  };
}

export interface TlsReportSenderOptions {
  dir: string;
  hostname: string;
  /** The reports' From and envelope sender (@moat/config tlsReportFrom: an address a queue.dkim key signs); default postmaster@hostname. */
  from?: string | undefined;
  organization: string;
  contact: string;
  txt: (name: string) => Promise<string[]>;
  enqueue: (input: EnqueueInput) => Promise<{ id: string }>;
  lock: DayLock;
  /** The day's outcomes: in the stack every node's, from the cluster's Redis (clusterOutcomes); default this node's files. */
  read?: ((day: string) => Promise<{ outcomes: TlsOutcome[]; skipped: number }>) | undefined;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

/** One day's run: build, claim the day, queue each report; logs one line and counts what it did. */
export function tlsReportSender(o: TlsReportSenderOptions): (day: string) => Promise<void> {
  const runs = new Counter({ name: 'moat_tlsrpt_runs_total', help: 'Daily TLS-RPT runs by result (sent, nothing, taken: another node or run had the day, failed)', labelNames: ['result'], registers: [o.registry] });
  const queued = new Counter({ name: 'moat_tlsrpt_reports_queued_total', help: 'TLS-RPT report messages queued by the daily run', registers: [o.registry] });
  const from = o.from ?? `postmaster@${o.hostname}`;
  return async (day) => {
    try {
      const d = await collectDailyReports({ dir: o.dir, day, organization: o.organization, contact: o.contact, txt: o.txt, read: o.read });
      const messages = dailyReportMessages(d, { from, submitter: o.organization, date: new Date((o.now ?? Date.now)()) });
      if (messages.length === 0) {
        runs.inc({ result: 'nothing' });
        o.logger.info({ event: 'tlsrpt', day, decided: 'tls-report-timer', result: 'nothing', domains: d.reports.length, withoutRecord: d.withoutRecord.length }, 'TLS reports: nothing to send');
        return;
      }
      if (!(await o.lock.claim(day))) {
        runs.inc({ result: 'taken' });
        o.logger.info({ event: 'tlsrpt', day, decided: 'tls-report-timer', result: 'taken' }, 'TLS reports: this day was sent already (another node, or before a restart)');
        return;
      }
      const ids: string[] = [];
      try {
        for (const m of messages) {
          const q = await o.enqueue({ sender: from, recipients: [m.to], message: m.message, ...REPORT_ENVELOPE });
          ids.push(q.id);
          queued.inc();
        }
      } catch (e) {
        // nothing queued: the day goes back, so the retry sends it (a partial run keeps it: no report twice)
        if (ids.length === 0) await o.lock.release(day).catch(() => undefined);
        o.logger.warn({ event: 'tlsrpt', day, decided: 'tls-report-timer', result: 'failed', queued: ids.length, of: messages.length, err: (e as Error).message }, 'TLS reports: queueing failed');
        throw e;
      }
      runs.inc({ result: 'sent' });
      o.logger.info({ event: 'tlsrpt', day, decided: 'tls-report-timer', result: 'sent', reports: messages.map((m) => ({ domain: m.domain, to: m.to })), queueIds: ids }, 'TLS reports queued');
    } catch (e) {
      runs.inc({ result: 'failed' });
      throw e;
    }
  };
}

/** "HH:MM" (UTC) as minutes after midnight. */
export function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

export function startTlsReportTimer(o: TlsReportSenderOptions & { at: string; schedule?: Parameters<typeof startDailyTimer>[0]['schedule'] }) {
  const run = tlsReportSender(o);
  const timer = startDailyTimer({ minuteOfDay: minuteOfDay(o.at), run, logger: o.logger, ...(o.now ? { now: o.now } : {}), ...(o.schedule ? { schedule: o.schedule } : {}) });
  o.logger.info({ event: 'tlsrpt', at: `${o.at} UTC`, next: new Date(timer.next() ?? 0).toISOString() }, 'TLS reports: daily send scheduled');
  return timer;
}
