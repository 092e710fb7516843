// Advice on a valid config: things the seed's author learned the hard way, said before mail flows.
// Pure: looks at the parsed config only; `moat config check` prints these as warnings (exit 0).
import { formatRestriction, type Restriction } from '@moat/policy';
import { tlsReportFrom, tlsReportSending } from './tls-report-from.ts';
import type { Config } from './schema.ts';
import { isLocalAddress, parseResolver } from '@moat/dns';

export interface ConfigWarning {
  /** Dotted path of the setting the warning is about. */
  path: string;
  message: string;
}

/** Public resolvers DNS lists refuse or rate-limit (the seed: "the big public name-servers are almost always blocked"). */
const PUBLIC_RESOLVERS = new Set(['8.8.8.8', '8.8.4.4', '1.1.1.1', '1.0.0.1', '9.9.9.9', '149.112.112.112', '208.67.222.222', '208.67.220.220', '2001:4860:4860::8888', '2001:4860:4860::8844', '2606:4700:4700::1111', '2620:fe::fe']);

export function lintConfig(c: Config): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const relay = c.policy.relay_restrictions as readonly Restriction[];
  const spam = c.policy.recipient_restrictions as readonly Restriction[];

  spam.forEach((r, i) => {
    if ('zone' in r && /(^|\.)sorbs\.net$/.test(r.zone)) {
      out.push({ path: `policy.recipient_restrictions[${i}]`, message: `${formatRestriction(r)}: the seed advises against SORBS (stale data, many false positives)` });
    }
  });
  if (!relay.some((r) => r.type === 'reject_unauth_destination' || r.type === 'defer_unauth_destination')) {
    out.push({
      path: 'policy.relay_restrictions',
      message: 'no reject_unauth_destination: moat still refuses relaying to domains it does not host (Postfix would refuse to start)',
    });
  }
  const isScore = (r: Restriction) => r.type === 'reject_dnsbl_score' || r.type === 'permit_dnsbl_score';
  if (c.policy.dnsbl_sites.length > 0 && ![...relay, ...spam].some(isScore)) {
    out.push({ path: 'policy.dnsbl_sites', message: 'set, but no list names reject_dnsbl_score or permit_dnsbl_score: the weighted lists are never asked' });
  }
  const allow = c.policy.dnsbl_allowlist_threshold ?? c.policy.dnsbl_whitelist_threshold ?? 0;
  if (allow < 0 && !spam.some((r) => r.type === 'permit_dnsbl_score')) {
    out.push({ path: 'policy.dnsbl_allowlist_threshold', message: `${allow}, but no permit_dnsbl_score in recipient_restrictions: nothing permits by it` });
  }
  if (tlsReportSending(c.queue.tls)) {
    const r = tlsReportFrom(c);
    if (r.signedBy.length === 0) {
      out.push({
        path: 'queue.dkim',
        message: `TLS reports are sent (queue.tls.report_send) but no key signs their From (${r.from}): RFC 8460 requires a DKIM signature of the reporting domain; add a queue.dkim key for the MX host's domain (docs/tls.md)`,
      });
    }
  }
  const firstDns = spam.findIndex((r) => 'zone' in r);
  const greylist = spam.findIndex((r) => r.type === 'check_policy_service');
  if (greylist >= 0 && firstDns > greylist) {
    out.push({ path: 'policy.recipient_restrictions', message: 'check_policy_service (greylist) comes before the DNS lists: listed clients get greylisted instead of refused' });
  }
  const mx = spam.findIndex((r) => r.type === 'permit_mynetworks');
  const unlisted = spam.findIndex((r) => r.type === 'reject_unlisted_recipient');
  // With smtpd_reject_unlisted_recipient (the default) unknown users are refused whatever the list says.
  if (c.routing.smtpd_reject_unlisted_recipient) {
    /* Postfix's implicit check refuses them at RCPT */
  } else if (unlisted < 0) out.push({ path: 'policy.recipient_restrictions', message: 'no reject_unlisted_recipient and routing.smtpd_reject_unlisted_recipient: no: mail to unknown users is accepted, then bounced (backscatter)' });
  else if (mx >= 0 && mx < unlisted) out.push({ path: 'policy.recipient_restrictions', message: 'permit_mynetworks before reject_unlisted_recipient: our own networks can send to unknown users' });

  const { host } = parseResolver(c.dns.resolver);
  if (PUBLIC_RESOLVERS.has(host)) {
    out.push({ path: 'dns.resolver', message: `${c.dns.resolver}: DNS lists refuse queries from big public resolvers; use the bundled Unbound (127.0.0.1:53)` });
  } else if (!isLocalAddress(host)) {
    out.push({ path: 'dns.resolver', message: `${c.dns.resolver}: not a loopback or private address; DNS lists need the appliance's own resolver (the bundled Unbound)` });
  }
  const r = c.mx.rate_limits;
  for (const key of ['sasl_user_message_rate_limit', 'sasl_user_recipient_rate_limit'] as const) {
    if (r[key] > 0 && c.mx.auth.users_file === undefined) out.push({ path: `mx.rate_limits.${key}`, message: 'set, but no mx.auth.users_file: nobody logs in, so this limit never applies' });
  }
  if (!c.policy.delay_reject) out.push({ path: 'policy.delay_reject', message: 'off: rejects happen before the recipient is known (some clients retry a refused HELO forever)' });
  if (c.mx.tls.cert === undefined) out.push({ path: 'mx.tls', message: 'no certificate: STARTTLS is not offered, and AUTH is off while auth.require_tls is on' });
  return out;
}
