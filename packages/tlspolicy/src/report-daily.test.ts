import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@moat/observe';
import { expect, it } from 'vitest';
import { collectDailyReports, dailyReportMessages, msUntil, previousDay, startDailyTimer } from './report-daily.ts';

const logger = createLogger('test', { level: 'silent' });
const T = (iso: string) => Date.parse(iso);

/** A clock and a scheduler the test moves by hand: `advance` fires what falls due, in order. */
function fakeTime(start: string) {
  let now = T(start);
  let due: { at: number; f: () => void } | undefined;
  return {
    now: () => now,
    schedule(f: () => void, ms: number) {
      const entry = { at: now + ms, f };
      due = entry;
      return { cancel: () => (due === entry ? (due = undefined) : undefined) };
    },
    async advance(toIso: string) {
      const to = T(toIso);
      while (due && due.at <= to) {
        const d = due;
        due = undefined;
        now = d.at;
        d.f();
        for (let i = 0; i < 20; i++) await Promise.resolve();
      }
      now = to;
    },
  };
}

it('computes the next run time and the day to report in UTC', () => {
  expect(msUntil(T('2026-12-07T00:30:00Z'), 60)).toBe(30 * 60_000);
  expect(msUntil(T('2026-12-07T01:00:00Z'), 60)).toBe(86_400_000); // never 0: the run at 01:00 just happened
  expect(msUntil(T('2026-12-07T23:00:00Z'), 60)).toBe(2 * 3_600_000);
  expect(previousDay(T('2026-12-07T01:00:00Z'))).toBe('2026-12-06');
});

it('reports yesterday once a day at the configured time, and retries a failed day hourly while it is fresh', async () => {
  const time = fakeTime('2026-12-06T15:00:00Z');
  const days: string[] = [];
  let fail = 0;
  const timer = startDailyTimer({
    minuteOfDay: 60,
    logger,
    now: time.now,
    schedule: time.schedule,
    run: async (day) => {
      days.push(day);
      if (fail > 0) {
        fail--;
        throw new Error('redis down');
      }
    },
  });
  expect(new Date(timer.next()!).toISOString()).toBe('2026-12-07T01:00:00.000Z');
  await time.advance('2026-12-07T00:59:59Z');
  expect(days).toEqual([]);
  await time.advance('2026-12-07T01:00:00Z');
  expect(days).toEqual(['2026-12-06']);
  // two failures: the same day again after an hour each, then back to the daily rhythm
  fail = 2;
  await time.advance('2026-12-08T03:30:00Z');
  expect(days).toEqual(['2026-12-06', '2026-12-07', '2026-12-07', '2026-12-07']);
  expect(new Date(timer.next()!).toISOString()).toBe('2026-12-09T01:00:00.000Z');
  // a day that keeps failing is given up two days after it began; the next day is reported as usual
  fail = 1000;
  await time.advance('2026-12-10T01:00:00Z');
  expect(days.filter((d) => d === '2026-12-08').length).toBe(24); // 2026-12-09 01:00 .. 2026-12-10 00:00, hourly
  expect(days.at(-1)).toBe('2026-12-09');
  timer.stop();
  await time.advance('2026-12-20T00:00:00Z');
  expect(days.at(-1)).toBe('2026-12-09');
});

it('builds reports only for domains that publish a _smtp._tls record, and one message per mailto: rua', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tlsrpt-daily-'));
  try {
    const line = (o: object) => `${JSON.stringify(o)}\n`;
    await writeFile(
      join(dir, '2026-12-06.jsonl'),
      line({ policyDomain: 'asks.example', policyType: 'sts', result: 'success' }) +
        line({ policyDomain: 'asks.example', policyType: 'sts', result: 'certificate-not-trusted', mxHost: 'mx.asks.example' }) +
        line({ policyDomain: 'silent.example', policyType: 'no-policy-found', result: 'success' }) +
        'not json\n',
    );
    const txt = async (name: string) => (name === '_smtp._tls.asks.example' ? ['v=TLSRPTv1; rua=mailto:tls@asks.example,https://r.asks.example/x'] : []);
    const d = await collectDailyReports({ dir, day: '2026-12-06', organization: 'mx.moat.test', contact: 'mailto:pm@moat.test', txt });
    expect(d.reports.map((r) => r.domain)).toEqual(['asks.example']);
    expect(d.withoutRecord).toEqual(['silent.example']);
    expect(d.skipped).toBe(1);
    expect(d.reports[0]!.report.policies[0]!.summary).toEqual({ 'total-successful-session-count': 1, 'total-failure-session-count': 1 });
    const msgs = dailyReportMessages(d, { from: 'postmaster@mx.moat.test', submitter: 'mx.moat.test' });
    expect(msgs.map((m) => [m.domain, m.to])).toEqual([['asks.example', 'tls@asks.example']]); // https: not posted
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
