import type { JournalEntry } from '@moat/journal';
import type { Verdict } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { groupSessions } from './mail-sessions.ts';
import { CERT_WARN_DAYS, nodeState } from './node-state.ts';
import { decisionCounters, parseMetrics } from './scrape.ts';
import { zoneFailing, zoneView } from './zone-view.ts';

const v = (action: Verdict['action'], decidedBy?: string): Verdict => ({ action, status: action === 'reject' ? '5.7.1' : '2.0.0', text: '', decidedBy, prepend: [], trace: [] });
const e = (session: string, time: number, stage: JournalEntry['facts']['stage'], verdict: Verdict, recipient?: string): JournalEntry => ({
  id: `${time}-0`,
  time,
  node: 'mx1',
  session,
  facts: { stage, clientAddress: '192.0.2.1', sender: 'a@example.net', recipient, tls: false, sessionId: session },
  verdict,
});

describe('sessions as rows', () => {
  it('one row per session; the final outcome is the last decided step (a DATA refusal after an RCPT permit), continue steps kept for the expanded view', () => {
    const rows = groupSessions([
      e('S2', 9, 'rcpt', v('reject', 'reject_rbl_client zen.example'), 'b@example.org'),
      e('S1', 4, 'end-of-data', v('reject', 'spamassassin')),
      e('S1', 3, 'rcpt', v('permit', 'permit'), 'b@example.org'),
      e('S1', 2, 'mail', v('continue')),
      e('S1', 1, 'helo', v('continue')),
    ]);
    expect(rows.map((r) => r.session)).toEqual(['S2', 'S1']);
    expect(rows[1]).toMatchObject({ final: { action: 'reject', stage: 'end-of-data', decidedBy: 'spamassassin' }, counts: { reject: 1, permit: 1 }, recipients: ['b@example.org'] });
    expect(rows[1]!.steps.map((s) => s.facts.stage)).toEqual(['helo', 'mail', 'rcpt', 'end-of-data']);
  });

  it('a session with only continue steps says continue, at its last stage', () => {
    expect(groupSessions([e('S3', 1, 'helo', v('continue'))])[0]!.final).toMatchObject({ action: 'continue', stage: 'helo' });
  });
});

describe('one zone view', () => {
  it('joins the journal, the nodes counters and the health check by display name, so both tables show the same errors', () => {
    const z = zoneView(
      [{ zone: 'zen.spamhaus.org', checked: 5, hits: 0, errors: 5 }],
      [{ zone: 'zen.spamhaus.org', lookups: { unknown: 5 }, hits: 0, errors: 5, failures: { servfail: 5 } }],
      [{ zone: 'zen.spamhaus.org', profile: 'spamhaus', kind: 'ip', state: 'unreachable', reason: 'SERVFAIL', warnings: 0 }],
    );
    expect(z).toEqual([expect.objectContaining({ zone: 'zen.spamhaus.org', state: 'unreachable', checked: 5, errors: 5, failures: { servfail: 5 } })]);
    expect(zoneFailing(z[0]!)).toBe(true);
  });
});

describe('node state from /metrics', () => {
  it('reads stress per listener and the reload metrics by name, and leaves out what a node lacks', () => {
    const s = nodeState(
      parseMetrics(
        [
          'moat_mx_stress{listener="smtp"} 1',
          'moat_mx_stress{listener="submission"} 0',
          'moat_mx_stress_switches_total{listener="smtp",to="on"} 1',
          'moat_reload_total{outcome="success"} 2',
          'moat_reload_total{outcome="failure"} 1',
          'moat_config_last_reload_successful 0',
        ].join('\n'),
      ),
    );
    expect(s).toEqual({ stress: { listeners: ['smtp', 'submission'], on: ['smtp'], switches: 1 }, reload: { lastOk: false, outcomes: { success: 2, failure: 1 } } });
    expect(nodeState(parseMetrics('moat_decisions_total{restriction="permit",action="permit"} 3'))).toEqual({});
  });

  it('warns about the ACME certificate when renewal fails or expiry is near, and is quiet when it renews', () => {
    const cert = (lines: string[]) => nodeState(parseMetrics(lines.join('\n'))).certificate;
    expect(cert(['moat_acme_renewal_failing 0', 'moat_tls_cert_expiry_days 89.5'])).toEqual({ renewalFailing: false, expiryDays: 89.5 });
    expect(cert(['moat_acme_renewal_failing 1', 'moat_tls_cert_expiry_days 25.2'])?.warning).toBe(
      'ACME renewal FAILING: keeping the current certificate (expires in 25 days); see the mx log (certificate renewal failed)',
    );
    // no failed order yet, but two weeks past the default renew_before of 30 days
    expect(cert(['moat_acme_renewal_failing 0', `moat_tls_cert_expiry_days ${CERT_WARN_DAYS - 0.5}`])?.warning).toBe(`certificate expires in ${CERT_WARN_DAYS - 1} days and has not been renewed`);
    expect(cert(['moat_acme_renewal_failing 1', 'moat_tls_cert_expiry_days -0.1'])?.warning).toMatch(/^certificate EXPIRED, ACME renewal failing/);
    // ACME configured, first order still pending: no expiry yet, nothing to warn about
    expect(cert(['moat_acme_renewal_failing 0'])).toEqual({ renewalFailing: false });
  });
});

describe('decisions since start', () => {
  it('counts the gateway refusals after DATA as decisions of the check that refused (4xx defer, 5xx reject)', () => {
    const d = decisionCounters(
      parseMetrics(
        [
          'moat_decisions_total{restriction="permit",action="permit"} 3',
          'moat_mx_rejects_total{stage="end-of-data",restriction="spamassassin",code="550"} 2',
          'moat_mx_rejects_total{stage="end-of-data",restriction="spamassassin",code="451"} 1',
          'moat_mx_rejects_total{stage="rcpt",restriction="delayed",code="554"} 9',
        ].join('\n'),
      ),
    );
    expect(d).toEqual([
      { restriction: 'permit', action: 'permit', count: 3 },
      { restriction: 'spamassassin', action: 'reject', count: 2 },
      { restriction: 'spamassassin', action: 'defer', count: 1 },
    ]);
  });
});
