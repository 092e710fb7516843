// The daily TLS-RPT run (RFC 8460): one UTC day's outcomes -> a report per domain that asks for one -> the
// messages to its mailto: addresses; and the timer that runs it once a day. Trusts the rua the resolver returned.
import type { Logger } from '@moat/observe';
import { buildTlsReports, parseTlsRptTxt, readOutcomes, type TlsReport } from './report.ts';
import { tlsReportMessage } from './report-mail.ts';
import { dayOf, type TlsOutcome } from './outcomes.ts';

export interface DailyReports {
  day: string;
  /** Domains with a `_smtp._tls` record (or every domain with `all`), each with its report. */
  reports: Array<{ domain: string; rua: string[]; report: TlsReport }>;
  /** Domains we have outcomes for that publish no usable `_smtp._tls` record (RFC 8460 3: no report). */
  withoutRecord: string[];
  /** Outcome lines that could not be read. */
  skipped: number;
}

/** Builds one day's reports; `txt` returns the TXT strings of a name ([] when none or on failure). */
export async function collectDailyReports(o: {
  dir: string;
  day: string;
  organization: string;
  contact: string;
  txt: (name: string) => Promise<string[]>;
  all?: boolean;
  /** Where the day's outcomes come from: default this node's files in `dir`; in a cluster every node's (report-cluster.ts). */
  read?: ((day: string) => Promise<{ outcomes: TlsOutcome[]; skipped: number }>) | undefined;
}): Promise<DailyReports> {
  const { outcomes, skipped } = await (o.read ?? ((day: string) => readOutcomes(o.dir, day)))(o.day);
  const built = buildTlsReports({ day: o.day, outcomes, organization: o.organization, contact: o.contact });
  const reports: DailyReports['reports'] = [];
  const withoutRecord: string[] = [];
  for (const [domain, report] of built) {
    const rua = parseTlsRptTxt(await o.txt(`_smtp._tls.${domain}`).catch(() => []));
    if (rua.length || o.all) reports.push({ domain, rua, report });
    else withoutRecord.push(domain);
  }
  return { day: o.day, reports, withoutRecord, skipped };
}

/**
 * How a report is queued (the queue's EnqueueInput fields): by MX lookup of the rua's domain, delivered "despite
 * any TLS-related failures" and not counted in the next report (RFC 8460 3: `tls: 'may'` makes the router skip
 * MTA-STS, DANE and queue.tls levels for it), and DKIM-signed with the key of its From domain (RFC 8460 3: reports
 * sent by SMTP MUST carry a DKIM signature of the reporting domain; `dkim: sign` is the queue's signing mark).
 * It ignores routing.relayhost on purpose: reports go to the rua domain's MX hosts directly, since the relay host
 * may be where TLS fails (docs/tls.md); the From that a key signs is @moat/config's tlsReportFrom.
 */
export const REPORT_ENVELOPE = {
  route: 'relay',
  nextHop: { transport: 'smtp', host: undefined, port: 25, mx: true, raw: 'smtp:', tls: 'may' },
  meta: { origin: 'tlsrpt', dkim: 'sign' },
} as const satisfies { route: string; nextHop: object; meta: Record<string, string> };

/** The RFC 8460 5.3 messages for the reports' mailto: addresses (https: rua are not posted by moat). */
export function dailyReportMessages(d: DailyReports, o: { from: string; submitter: string; date?: Date }): Array<{ domain: string; to: string; message: Buffer }> {
  const out: Array<{ domain: string; to: string; message: Buffer }> = [];
  for (const r of d.reports) {
    for (const uri of r.rua) {
      const to = /^mailto:([^?,\s]+@[^?,\s]+)$/i.exec(uri)?.[1];
      if (!to) continue;
      out.push({ domain: r.domain, to, message: tlsReportMessage(r.report, { domain: r.domain, from: o.from, to, submitter: o.submitter, ...(o.date ? { date: o.date } : {}) }) });
    }
  }
  return out;
}

/** The UTC day before the one `now` falls in. */
export function previousDay(now: number): string {
  return dayOf(now - 86_400_000);
}

/** Milliseconds from `now` to the next `minuteOfDay` (UTC), never 0. */
export function msUntil(now: number, minuteOfDay: number): number {
  const midnight = Math.floor(now / 86_400_000) * 86_400_000;
  let at = midnight + minuteOfDay * 60_000;
  if (at <= now) at += 86_400_000;
  return at - now;
}

export interface DailyTimerOptions {
  /** Minutes after 00:00 UTC at which the previous day is reported. */
  minuteOfDay: number;
  /** Reports one day; a rejection is retried after `retryMs` while the day is less than two days old. */
  run: (day: string) => Promise<void>;
  logger: Logger;
  now?: () => number;
  /** setTimeout by default; tests drive time themselves. */
  schedule?: (f: () => void, ms: number) => { cancel(): void };
  retryMs?: number;
}

/** Runs `run(yesterday)` every day at `minuteOfDay` UTC, one run at a time; `stop()` cancels the next. */
export function startDailyTimer(o: DailyTimerOptions): { stop(): void; next(): number | undefined } {
  const now = o.now ?? Date.now;
  const schedule =
    o.schedule ??
    ((f: () => void, ms: number) => {
      const t = setTimeout(f, ms);
      t.unref();
      return { cancel: () => clearTimeout(t) };
    });
  const retryMs = o.retryMs ?? 3_600_000;
  let timer: { cancel(): void } | undefined;
  let nextAt: number | undefined;
  let stopped = false;
  // `from` is the instant `ms` was computed from: a second now() could be a millisecond later
  const arm = (ms: number, day?: string, from = now()) => {
    if (stopped) return;
    nextAt = from + ms;
    timer = schedule(() => void fire(day), ms);
  };
  const armDaily = () => {
    const t = now();
    arm(msUntil(t, o.minuteOfDay), undefined, t);
  };
  const fire = async (retryDay?: string) => {
    const day = retryDay ?? previousDay(now());
    try {
      await o.run(day);
      armDaily();
    } catch (e) {
      // a day's report is still worth sending the next day; older ones are given up (logged)
      const stale = now() - Date.parse(`${day}T00:00:00Z`) >= 2 * 86_400_000;
      o.logger.warn({ event: 'tlsrpt', day, err: e, retry: !stale }, stale ? 'TLS report run failed: giving up on this day' : 'TLS report run failed: retrying');
      if (stale) armDaily();
      else arm(retryMs, day);
    }
  };
  armDaily();
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
    next: () => nextAt,
  };
}
