// The From address of moat's TLS reports. RFC 8460 3: reports sent by mail MUST carry a DKIM signature of the
// reporting domain, and the signer picks keys by From domain. Trusts the parsed config (queue.dkim, host names).
import { matchesFrom } from '@moat/dkim';
import type { Config } from './schema.ts';

export interface TlsReportFrom {
  /** The report's From (and envelope sender). */
  from: string;
  /** The keys (`domain/selector`) that sign mail from it; empty: reports go out unsigned. */
  signedBy: string[];
}

/**
 * `postmaster@` the first of these a queue.dkim key signs: the MX host name (mx.hostname, else policy.hostname),
 * each parent domain of it (mx.example.org → example.org), then each key's own domain in config order. None
 * signs: postmaster@ the host name, unsigned (`config check` warns while TLS-RPT sending is on). So an admin
 * signs reports by configuring a queue.dkim key for the MX host's domain (or for the host name itself).
 */
export function tlsReportFrom(c: Pick<Config, 'queue' | 'mx' | 'policy'>): TlsReportFrom {
  const host = (c.mx.hostname ?? c.policy.hostname).toLowerCase().replace(/\.$/, '');
  const labels = host.split('.');
  const domains = [...labels.slice(0, -1).map((_, i) => labels.slice(i).join('.')), ...c.queue.dkim.map((k) => k.domain.toLowerCase())];
  for (const d of domains) {
    const from = `postmaster@${d}`;
    const signedBy = c.queue.dkim.filter((k) => matchesFrom(k.match ?? k.domain, from)).map((k) => `${k.domain}/${k.selector}`);
    if (signedBy.length > 0) return { from, signedBy };
  }
  return { from: `postmaster@${host}`, signedBy: [] };
}

/** Whether this node sends TLS reports (queue.tls.report_send; default on when an organization or contact is set). */
export function tlsReportSending(tls: Config['queue']['tls']): boolean {
  return tls.report_send ?? (tls.report_organization !== undefined || tls.report_contact !== undefined);
}
