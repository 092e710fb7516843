// What one node's /metrics says about its state: mx stress mode (moat_mx_stress, per listener), the last config
// reload (moat_reload_total{outcome}, moat_config_last_reload_successful) and the ACME certificate
// (moat_acme_renewal_failing, moat_tls_cert_expiry_days). Pure; a metric a node lacks is left out.
import type { Sample } from './scrape.ts';

export interface NodeState {
  /** Listeners under stress now (moat_mx_stress = 1); undefined when the node exports no stress gauge (not an mx). */
  stress?: { listeners: string[]; on: string[]; switches: number } | undefined;
  /** undefined when the node exports no reload metrics (an older build, or no reload yet counted). */
  reload?: { lastOk?: boolean | undefined; outcomes: Record<string, number> } | undefined;
  /** undefined when the node exports no ACME metrics (no mx.tls.acme). */
  certificate?: CertificateState | undefined;
}

export interface CertificateState {
  /** The last ACME order failed: the previous certificate is still served. */
  renewalFailing: boolean;
  /** Days until the served certificate expires (undefined before the first certificate). */
  expiryDays?: number | undefined;
  /** What the admin must read, when anything; undefined when all is well. */
  warning?: string | undefined;
}

/**
 * Warn this many days before expiry even when no order has failed yet: with the default renew_before of 30 days a
 * certificate this close to its end has not been renewed for two weeks (the CA refusing, port 80 closed, ...).
 */
export const CERT_WARN_DAYS = 14;

function certificateWarning(c: CertificateState): string | undefined {
  const days = c.expiryDays === undefined ? undefined : Math.floor(c.expiryDays);
  if (c.expiryDays !== undefined && c.expiryDays <= 0) return `certificate EXPIRED${c.renewalFailing ? ', ACME renewal failing' : ''}: senders enforcing MTA-STS or DANE defer mail to this MX`;
  if (c.renewalFailing) return `ACME renewal FAILING: keeping the current certificate${days === undefined ? '' : ` (expires in ${days} days)`}; see the mx log (certificate renewal failed)`;
  if (days !== undefined && days < CERT_WARN_DAYS) return `certificate expires in ${days} days and has not been renewed`;
  return undefined;
}

export function nodeState(samples: readonly Sample[]): NodeState {
  const state: NodeState = {};
  for (const s of samples) {
    if (s.name === 'moat_mx_stress') {
      state.stress ??= { listeners: [], on: [], switches: 0 };
      const l = s.labels.listener ?? 'smtp';
      state.stress.listeners.push(l);
      if (s.value > 0) state.stress.on.push(l);
    } else if (s.name === 'moat_mx_stress_switches_total') {
      state.stress ??= { listeners: [], on: [], switches: 0 };
      state.stress.switches += s.value;
    } else if (s.name === 'moat_reload_total') {
      state.reload ??= { outcomes: {} };
      const o = s.labels.outcome ?? '?';
      state.reload.outcomes[o] = (state.reload.outcomes[o] ?? 0) + s.value;
    } else if (s.name === 'moat_config_last_reload_successful') {
      state.reload ??= { outcomes: {} };
      // one gauge per component on a node: the last reload failed when any says so
      state.reload.lastOk = (state.reload.lastOk ?? true) && s.value > 0;
    } else if (s.name === 'moat_acme_renewal_failing') {
      state.certificate ??= { renewalFailing: false };
      state.certificate.renewalFailing = s.value > 0;
    } else if (s.name === 'moat_tls_cert_expiry_days') {
      state.certificate ??= { renewalFailing: false };
      state.certificate.expiryDays = s.value;
    }
  }
  if (state.certificate) {
    const warning = certificateWarning(state.certificate);
    if (warning) state.certificate.warning = warning;
  }
  return state;
}
