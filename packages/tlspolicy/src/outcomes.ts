// TLS-RPT (RFC 8460) bookkeeping: each outbound TLS outcome counted per policy domain and kept for the daily report.
// Trusts its callers' outcomes; writes one JSON line per outcome to <dir>/<UTC day>.jsonl (the report's input).
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, type Logger, metricOnce, type Registry } from '@moat/observe';

/** RFC 8460 4.3 result types, plus `success`. */
export type TlsResultType =
  | 'success'
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

export type TlsPolicyType = 'tlsa' | 'sts' | 'no-policy-found';

export interface TlsOutcome {
  /** The recipient domain whose policy applied (the report goes to its `_smtp._tls` address). */
  policyDomain: string;
  policyType: TlsPolicyType;
  /** The policy as RFC 8460 4.4 wants it: the STS file's lines, or TLSA records as text. */
  policyString?: string[];
  /** For sts: the policy's mx patterns. */
  mxPatterns?: string[];
  mxHost?: string;
  receivingIp?: string;
  result: TlsResultType;
  detail?: string;
  /** Milliseconds since epoch (default now). */
  at?: number;
  /** Sessions this outcome stands for (a cluster's merged counts, report-cluster.ts); default 1. */
  count?: number;
}

export interface OutcomeRecorder {
  record(o: TlsOutcome): void;
  /** Wait for pending writes (tests, shutdown). */
  flush(): Promise<void>;
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function outcomeRecorder(o: { registry?: Registry; dir?: string | undefined; logger?: Logger | undefined }): OutcomeRecorder {
  const registry = o.registry;
  const counter = registry
    ? metricOnce(
        registry,
        'moat_tls_outcomes_total',
        () =>
          new Counter({
            name: 'moat_tls_outcomes_total',
            help: 'Outbound TLS sessions by policy domain, policy type (tlsa, sts, no-policy-found) and RFC 8460 result (success or the failure type)',
            labelNames: ['policy_domain', 'policy_type', 'result'],
            registers: [registry],
          }),
      )
    : undefined;
  let pending: Promise<void> = Promise.resolve();
  let madeDir = false;
  return {
    record(out) {
      const at = out.at ?? Date.now();
      counter?.inc({ policy_domain: out.policyDomain, policy_type: out.policyType, result: out.result });
      if (out.result !== 'success') {
        o.logger?.warn({ domain: out.policyDomain, policy: out.policyType, mx: out.mxHost, ip: out.receivingIp, result: out.result, detail: out.detail, decided_by: 'tls-policy' }, 'outbound TLS failure');
      }
      if (!o.dir) return;
      const dir = o.dir;
      const line = `${JSON.stringify({ ...out, at })}\n`;
      pending = pending.then(async () => {
        try {
          if (!madeDir) {
            await mkdir(dir, { recursive: true });
            madeDir = true;
          }
          await appendFile(join(dir, `${dayOf(at)}.jsonl`), line);
        } catch (e) {
          o.logger?.error({ err: (e as Error).message, dir }, 'cannot write TLS-RPT outcome');
        }
      });
    },
    flush: () => pending,
  };
}
