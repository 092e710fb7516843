// The RFC 8460 daily aggregate report, built from the outcomes outcomes.ts kept (one JSON line per session).
// Trusts the outcome files the delivery thread wrote; a line it cannot read is skipped and counted.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsOutcome } from './outcomes.ts';

export interface TlsReport {
  'organization-name': string;
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info': string;
  'report-id': string;
  policies: Array<{
    policy: { 'policy-type': string; 'policy-string'?: string[]; 'policy-domain': string; 'mx-host'?: string[] };
    summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
    'failure-details'?: Array<{
      'result-type': string;
      'sending-mta-ip'?: string;
      'receiving-mx-hostname'?: string;
      'receiving-ip'?: string;
      'failed-session-count': number;
      'additional-information'?: string;
    }>;
  }>;
}

/** Read one UTC day's outcomes (`YYYY-MM-DD`); missing file = none. */
export async function readOutcomes(dir: string, day: string): Promise<{ outcomes: TlsOutcome[]; skipped: number }> {
  let text = '';
  try {
    text = await readFile(join(dir, `${day}.jsonl`), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const outcomes: TlsOutcome[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as TlsOutcome;
      if (typeof o.policyDomain === 'string' && typeof o.result === 'string') outcomes.push(o);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { outcomes, skipped };
}

/** Sessions an outcome stands for: 1 per line, or a merged count (never negative, never fractional). */
const weight = (x: TlsOutcome): number => (Number.isSafeInteger(x.count) && x.count! > 0 ? x.count! : 1);

/** One report per policy domain (each goes to that domain's `_smtp._tls` rua). */
export function buildTlsReports(o: { day: string; outcomes: TlsOutcome[]; organization: string; contact: string; sendingIp?: string }): Map<string, TlsReport> {
  const byDomain = new Map<string, TlsOutcome[]>();
  for (const x of o.outcomes) byDomain.set(x.policyDomain, [...(byDomain.get(x.policyDomain) ?? []), x]);
  const out = new Map<string, TlsReport>();
  for (const [domain, list] of [...byDomain].sort(([a], [b]) => a.localeCompare(b))) {
    // one policy entry per distinct policy seen that day
    const byPolicy = new Map<string, TlsOutcome[]>();
    for (const x of list) {
      const key = JSON.stringify([x.policyType, x.policyString ?? [], x.mxPatterns ?? []]);
      byPolicy.set(key, [...(byPolicy.get(key) ?? []), x]);
    }
    const policies: TlsReport['policies'] = [];
    for (const xs of byPolicy.values()) {
      const first = xs[0]!;
      const failures = new Map<string, { x: TlsOutcome; n: number }>();
      let failed = 0;
      let total = 0;
      for (const x of xs) {
        const n = weight(x);
        total += n;
        if (x.result === 'success') continue;
        failed += n;
        const k = JSON.stringify([x.result, x.mxHost, x.receivingIp]);
        const f = failures.get(k);
        if (f) f.n += n;
        else failures.set(k, { x, n });
      }
      policies.push({
        policy: {
          'policy-type': first.policyType,
          ...(first.policyString?.length ? { 'policy-string': first.policyString } : {}),
          'policy-domain': domain,
          ...(first.mxPatterns?.length ? { 'mx-host': first.mxPatterns } : {}),
        },
        summary: { 'total-successful-session-count': total - failed, 'total-failure-session-count': failed },
        ...(failures.size
          ? {
              'failure-details': [...failures.values()].map(({ x, n }) => ({
                'result-type': x.result,
                ...(o.sendingIp ? { 'sending-mta-ip': o.sendingIp } : {}),
                ...(x.mxHost ? { 'receiving-mx-hostname': x.mxHost } : {}),
                ...(x.receivingIp ? { 'receiving-ip': x.receivingIp } : {}),
                'failed-session-count': n,
                ...(x.detail ? { 'additional-information': x.detail.slice(0, 200) } : {}),
              })),
            }
          : {}),
      });
    }
    out.set(domain, {
      'organization-name': o.organization,
      'date-range': { 'start-datetime': `${o.day}T00:00:00Z`, 'end-datetime': `${o.day}T23:59:59Z` },
      'contact-info': o.contact,
      'report-id': `${o.day}T00:00:00Z_${domain}@${o.organization}`,
      policies,
    });
  }
  return out;
}

/** The `_smtp._tls` TXT record's report addresses (RFC 8460 3); empty when none or malformed. */
export function parseTlsRptTxt(records: string[]): string[] {
  const rpt = records.filter((r) => /^v=TLSRPTv1\s*;/.test(r.trim()));
  if (rpt.length !== 1) return [];
  const m = /;\s*rua=([^;]+)/.exec(rpt[0]!);
  return m ? m[1]!.split(',').map((s) => s.trim()).filter((s) => /^(mailto:|https:)/.test(s)) : [];
}
