// The shipped default policy: the seed's decision list (docs: ../shared/seed, "Running Your Own
// Mailserver(s)"), in the seed's order, as Postfix text. Operators override it in moat.yaml, never here.

/** Postfix 2.10+ default smtpd_relay_restrictions: only our networks and logged-in users relay. */
export const DEFAULT_RELAY_RESTRICTIONS_TEXT = `
  permit_mynetworks,
  permit_sasl_authenticated,
  reject_unauth_destination
`;

/**
 * The seed's eleven steps. Steps 1-4 are the seed's smtpd_helo_required, strict_rfc821_envelopes and
 * the HELO/sender/recipient checks; 5-6 its mynetworks and SASL permits; 7-9 its
 * smtpd_recipient_restrictions block verbatim (SORBS is absent there, as the seed advises: "Don't
 * use SORBS"); 10 its `check_policy_service` (moat's greylist); 11 accept. `@CLIENT_ACCESS@` is
 * replaced by `check_client_access <map>` when `policy.client_access` is set, and dropped otherwise.
 */
export const DEFAULT_RECIPIENT_RESTRICTIONS_TEXT = `
  # 1. REJECT anyone who doesn't say HELO
  reject_missing_helo,
  # 2. REJECT invalid hostnames in HELO
  reject_invalid_helo_hostname,
  reject_non_fqdn_helo_hostname,
  # 3. REJECT senders not using <user@domain.domain> as per RFC 821 (plus strict_rfc821_envelopes)
  reject_non_fqdn_sender,
  # 4. REJECT unknown recipients
  reject_unlisted_recipient,
  # 5. ALLOW known IPs (backup MX hosts, other trusted devices); the seed's rbl_override map
  permit_mynetworks,
  @CLIENT_ACCESS@
  # 6. ALLOW authenticated senders
  permit_sasl_authenticated,
  # 7. ALLOW DNS whitelists whose entries can be considered non-spam
  permit_dnswl_client iadb.isipp.com=,
  permit_dnswl_client sa-trusted.bondedsender.org,
  permit_dnswl_client sa-accredit.habeas.com,
  permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3],
  permit_dnswl_client hostkarma.junkemailfilter.com=127.0.0.[1;5],
  # 8. REJECT DNS blacklists
  reject_rhsbl_reverse_client dbl.spamhaus.org,
  reject_rhsbl_sender dbl.spamhaus.org,
  reject_rhsbl_client dbl.spamhaus.org,
  reject_rbl_client zen.spamhaus.org,
  reject_rbl_client dnsbl-1.uceprotect.net,
  reject_rbl_client psbl.surriel.com,
  reject_rbl_client hostkarma.junkemailfilter.com=,
  reject_rbl_client bl.mailspike.net,
  reject_rbl_client b.barracudacentral.org,
  reject_rbl_client truncate.gbudb.net,
  # 9. ALLOW a second set of whitelists: verified SMTP servers skip greylisting
  permit_dnswl_client iadb.isipp.com=127.0.2.[1;2],
  permit_dnswl_client iadb.isipp.com=127.3.100.[5..100],
  permit_dnswl_client wl.mailspike.net,
  permit_dnswl_client list.dnswl.org,
  permit_dnswl_client hostkarma.junkemailfilter.com=,
  # 10. greylisting decides ACCEPT/DELAY (the seed's check_policy_service; moat's shared greylist)
  check_policy_service moat:greylist,
  # 11. ACCEPT
  permit
`;

/** The default spam policy as Postfix text, with or without the client access map step. */
export function defaultRecipientRestrictionsText(clientAccess?: string | undefined): string {
  return DEFAULT_RECIPIENT_RESTRICTIONS_TEXT.replace('@CLIENT_ACCESS@', clientAccess ? `check_client_access ${clientAccess},` : '');
}
