// The main.cf importer's restriction lists: smtpd_{client,helo,sender,relay,recipient}_restrictions onto moat's
// relay and recipient lists (docs/postfix-keys.md says how), and the switches read with them. Trusts parsed main.cf.
import { formatRestriction, type Restriction } from '@moat/policy';
import { importDnsbl } from './dnsbl.ts';
import type { Importer } from './import.ts';

/** Restrictions that can only permit (or say nothing) and those that can only refuse (or say nothing). */
const PERMIT_ONLY = new Set(['permit', 'permit_mynetworks', 'permit_sasl_authenticated', 'permit_dnswl_client', 'permit_rhswl_client', 'permit_dnsbl_score', 'permit_auth_destination']);
const REFUSE_ONLY = new Set([
  'reject',
  'defer',
  'reject_missing_helo',
  'reject_invalid_helo_hostname',
  'reject_non_fqdn_helo_hostname',
  'reject_non_fqdn_sender',
  'reject_non_fqdn_recipient',
  'reject_unlisted_recipient',
  'reject_rbl_client',
  'reject_rhsbl_client',
  'reject_rhsbl_reverse_client',
  'reject_rhsbl_sender',
  'reject_rhsbl_helo',
  'reject_dnsbl_score',
  'reject_unauth_destination',
  'defer_unauth_destination',
]);
/** Access maps, policy services and any restriction this table does not list may do both. */
const mayPermit = (t: string) => PERMIT_ONLY.has(t) || (!REFUSE_ONLY.has(t) && t !== 'dunno');
const mayRefuse = (t: string) => REFUSE_ONLY.has(t) || (!PERMIT_ONLY.has(t) && t !== 'dunno');

/** The restriction lists and their switches (smtpd_*_restrictions, smtpd_delay_reject, strict_rfc821_envelopes). */
export function importLists(imp: Importer): void {
  const delay = imp.bool('smtpd_delay_reject');
  if (delay !== undefined) {
    imp.set('policy.delay_reject', delay, 'smtpd_delay_reject');
    if (imp.explicit('smtpd_delay_reject')) imp.use('smtpd_delay_reject', `policy.delay_reject = ${delay}`);
  }
  const strict = imp.bool('strict_rfc821_envelopes');
  if (strict !== undefined) {
    imp.set('policy.strict_rfc821_envelopes', strict, 'strict_rfc821_envelopes');
    // behind Postfix (policyd), Postfix itself checks the raw envelope when this is yes
    imp.set('policyd.skip.sender', strict, 'strict_rfc821_envelopes');
    if (imp.explicit('strict_rfc821_envelopes')) imp.use('strict_rfc821_envelopes', `policy.strict_rfc821_envelopes = ${strict} (and policyd.skip.sender)`);
  }
  // the tables behind reject_*_sender_login_mismatch: without them those restrictions could check nothing
  const logins = imp.explicit('smtpd_sender_login_maps') ? imp.value('smtpd_sender_login_maps') : undefined;
  if (logins !== undefined) {
    const maps = logins.split(/[\s,]+/).filter((m) => m !== '');
    imp.set('policy.sender_login_maps', maps, 'smtpd_sender_login_maps');
    imp.use('smtpd_sender_login_maps', `policy.sender_login_maps = ${maps.join(', ') || '(none)'}`);
  }
  for (const name of ['smtpd_restriction_classes', 'smtpd_data_restrictions', 'smtpd_end_of_data_restrictions', 'smtpd_etrn_restrictions']) {
    const v = imp.value(name);
    if (v !== undefined && v.trim() !== '') imp.error(name, 'empty: moat evaluates restrictions at RCPT only (no restriction classes, DATA, END-OF-DATA or ETRN lists)', JSON.stringify(v));
  }

  // smtpd_client/helo/sender_restrictions: Postfix runs each list in turn at RCPT (with delay_reject), a permit
  // ending only its own list. A list whose refusing items all come before any permitting item is the same as
  // those items at the head of the relay list (evaluated first); anything else cannot be expressed.
  const prefix: Restriction[] = [];
  let prefixFrom: string | undefined;
  for (const name of ['smtpd_client_restrictions', 'smtpd_helo_restrictions', 'smtpd_sender_restrictions']) {
    const list = imp.restrictions(name);
    if (list === undefined || list.length === 0) continue;
    let last = -1;
    list.forEach((r, i) => {
      if (mayRefuse(r.type)) last = i;
    });
    if (last < 0) {
      imp.use(name, `no effect: none of ${list.map(formatRestriction).join(', ')} can refuse, and a permit ends only this list`);
      continue;
    }
    const blocker = list.slice(0, last + 1).find((r) => mayPermit(r.type));
    if (blocker !== undefined) {
      imp.error(
        name,
        'a list moat can express: its refusing items before any permitting one (moat has one relay and one recipient list; put the checks in smtpd_recipient_restrictions)',
        `${formatRestriction(blocker)} may permit before ${formatRestriction(list[last]!)}`,
        imp.itemLine(name, formatRestriction(blocker).split(' ')[0]!),
      );
      continue;
    }
    prefix.push(...list.slice(0, last + 1));
    prefixFrom ??= name;
    imp.use(name, `at the head of policy.relay_restrictions (evaluated first, as Postfix evaluates it before the relay list): ${list.slice(0, last + 1).map(formatRestriction).join(', ')}`);
  }

  const relay = imp.restrictions('smtpd_relay_restrictions');
  const rcpt = imp.restrictions('smtpd_recipient_restrictions');
  if (relay !== undefined && rcpt !== undefined) {
    const relayControl = (l: Restriction[]) => l.some((r) => ['reject_unauth_destination', 'defer_unauth_destination', 'reject', 'defer'].includes(r.type));
    if (relay.length === 0) {
      if (!relayControl(rcpt)) {
        imp.error('smtpd_relay_restrictions', 'at least one working instance of reject_unauth_destination, defer_unauth_destination, reject or defer in smtpd_relay_restrictions or smtpd_recipient_restrictions (Postfix refuses to start without)', 'both lists without one');
      } else {
        imp.error('smtpd_relay_restrictions', 'a relay list: moat keeps relay control apart from the spam policy (Postfix 2.10+); move permit_mynetworks, permit_sasl_authenticated and reject_unauth_destination into smtpd_relay_restrictions', 'empty (relay control inside smtpd_recipient_restrictions)');
      }
    } else {
      // named after the explicit key that shaped it, so "moat.yaml wins" is reported against that line
      const from = imp.explicit('smtpd_relay_restrictions') ? 'smtpd_relay_restrictions' : (prefixFrom ?? 'smtpd_relay_restrictions');
      imp.set('policy.relay_restrictions', [...prefix, ...relay].map(formatRestriction), from);
      if (imp.explicit('smtpd_relay_restrictions')) imp.use('smtpd_relay_restrictions', 'policy.relay_restrictions');
      else imp.warn('smtpd_relay_restrictions', `unset: Postfix's default applies: ${relay.map(formatRestriction).join(', ')}`);
    }
    imp.set('policy.recipient_restrictions', rcpt.map(formatRestriction), 'smtpd_recipient_restrictions');
    if (imp.explicit('smtpd_recipient_restrictions')) imp.use('smtpd_recipient_restrictions', `policy.recipient_restrictions (${rcpt.length} items)`);
    else imp.warn('smtpd_recipient_restrictions', 'unset: Postfix\'s default is empty, so moat\'s shipped spam policy is replaced by nothing; set it (or policy.recipient_restrictions)');
    for (const r of rcpt) {
      if (r.type === 'check_policy_service' && r.service !== undefined) imp.warn('smtpd_recipient_restrictions', `check_policy_service ${r.service}: moat answers it with its own shared greylist (greylist:), not by calling that service`, imp.itemLine('smtpd_recipient_restrictions', r.service));
    }
  }
  const scored = [...prefix, ...(relay ?? []), ...(rcpt ?? [])].some((r) => r.type === 'reject_dnsbl_score' || r.type === 'permit_dnsbl_score');
  importDnsbl(imp, scored);
}
