// The main.cf importer's reply-code keys: the *_reject_code settings of the checks moat implements, read with Postfix's defaults.
// Trusts the parsed main.cf; a value that is not a 4xx/5xx code is an error naming its line.
import type { Importer } from './import.ts';
import { parseInteger } from './params.ts';

/**
 * main.cf key → policy.<key> (same name), for the checks whose code Postfix takes from it (smtpd_check.c):
 * check_rcpt_maps by address class, reject_unknown_{sender,recipient}_domain, reject_unknown_{,reverse_}client_hostname.
 * Their defaults (postconf -d) are the schema's, so only a key main.cf writes is handed on.
 */
export const REPLY_CODE_KEYS = Object.freeze({
  unknown_local_recipient_reject_code: 'reject_unlisted_recipient/_sender in a mydestination domain (local_recipient_maps)',
  unknown_virtual_alias_reject_code: 'reject_unlisted_recipient/_sender in a virtual_alias_domains domain',
  unknown_virtual_mailbox_reject_code: 'reject_unlisted_recipient/_sender in a virtual_mailbox_domains domain',
  unknown_relay_recipient_reject_code: 'reject_unlisted_recipient/_sender in a relay_domains domain (relay_recipient_maps)',
  unknown_address_reject_code: 'reject_unknown_sender_domain / reject_unknown_recipient_domain',
  unknown_client_reject_code: 'reject_unknown_client_hostname / reject_unknown_reverse_client_hostname',
} as const);

/** Keys of checks moat does not implement: ignored (class other), reported with what they would govern. */
export const UNIMPLEMENTED_CODE_KEYS: Readonly<Record<string, string>> = Object.freeze({
  unknown_hostname_reject_code: 'they govern reject_unknown_helo_hostname, which moat does not implement (a list naming it is an error)',
  unknown_helo_hostname_tempfail_action: 'they govern reject_unknown_helo_hostname, which moat does not implement (a list naming it is an error)',
  unverified_recipient_reject_code: 'it governs reject_unverified_recipient, which moat does not implement (a list naming it is an error)',
  unverified_sender_reject_code: 'it governs reject_unverified_sender, which moat does not implement (a list naming it is an error)',
});

/**
 * Codes of checks moat implements with Postfix's default code and does not make settable (yet): main.cf may set them
 * to that default. Another code of the same class (5xx for 5xx) only changes the number in the reply: a warning; a
 * code of the other class would change what happens to the mail (a 4xx makes the client retry): an error.
 */
export const FIXED_CODE_KEYS: Readonly<Record<string, { code: number; what: string }>> = Object.freeze({
  access_map_reject_code: { code: 554, what: 'an access map\'s REJECT' },
  access_map_defer_code: { code: 450, what: 'an access map\'s DEFER' },
  relay_domains_reject_code: { code: 554, what: 'reject_unauth_destination (defer_unauth_destination answers it minus 100)' },
  maps_rbl_reject_code: { code: 554, what: 'reject_rbl_client and the other DNS list rejects' },
  invalid_hostname_reject_code: { code: 501, what: 'reject_invalid_helo_hostname' },
  non_fqdn_reject_code: { code: 504, what: 'reject_non_fqdn_{helo_hostname,sender,recipient}' },
  reject_code: { code: 554, what: 'reject' },
  defer_code: { code: 450, what: 'defer' },
});

/** The keys this module maps (the importer reports no other reason for them). */
export const REPLY_KEYS = [...Object.keys(REPLY_CODE_KEYS), ...Object.keys(FIXED_CODE_KEYS), 'unknown_address_tempfail_action', 'reject_tempfail_action'] as const;

export function importReplyCodes(imp: Importer): void {
  for (const [name, what] of Object.entries(REPLY_CODE_KEYS)) {
    if (!imp.explicit(name)) continue;
    const v = imp.value(name);
    if (v === undefined) continue;
    const n = parseInteger(v);
    // Postfix refuses a non-number at start (get_mail_conf_int); a number outside 400..599 it answers with
    // "450 4.7.1 Service unavailable" and a warning at each use. moat refuses both before mail flows.
    if (n === undefined || n < 400 || n > 599) {
      imp.error(name, 'an SMTP reply code from 400 to 599', JSON.stringify(v));
      continue;
    }
    imp.set(`policy.${name}`, n, name);
    imp.use(name, `policy.${name} = ${n}: the reply code of ${what}${n < 500 ? ' (a 4xx code defers)' : ''}`);
  }
  for (const [name, { code, what }] of Object.entries(FIXED_CODE_KEYS)) {
    if (!imp.explicit(name)) continue;
    const v = imp.value(name);
    if (v === undefined) continue;
    const n = parseInteger(v);
    if (n === code) imp.use(name, `read: moat answers ${what} with ${code}, Postfix's default`);
    else if (n !== undefined && n >= 400 && n <= 599 && String(n)[0] === String(code)[0]) {
      imp.use(name, `not applied: moat answers ${what} with Postfix's default ${code}, not ${n}`);
      imp.warn(name, `${n}: moat answers ${what} with Postfix's default ${code} (the same class, so the mail fares the same; only the number differs)`);
    } else imp.error(name, `${code} (Postfix's default: moat answers ${what} with it and reads no other value)`, JSON.stringify(v));
  }
  // unknown_address_tempfail_action = $reject_tempfail_action by default: the expansion follows main.cf's reject_tempfail_action
  const tf = 'unknown_address_tempfail_action';
  if (imp.explicit(tf) || imp.explicit('reject_tempfail_action')) {
    // smtpd reads it with name_code(NAME_CODE_FLAG_NONE): case-insensitive, so `DEFER` is defer
    const raw = imp.value(tf);
    const v = raw?.toLowerCase();
    if (v === 'defer_if_permit' || v === 'defer') {
      imp.set(`policy.${tf}`, v, imp.explicit(tf) ? tf : 'reject_tempfail_action');
      imp.use(imp.explicit(tf) ? tf : 'reject_tempfail_action', `policy.${tf} = ${v}: what a DNS failure in reject_unknown_{sender,recipient}_domain does`);
      if (imp.explicit(tf) && imp.explicit('reject_tempfail_action')) imp.use('reject_tempfail_action', `only the default of the other *_tempfail_action keys; moat reads it for ${tf} (set there)`);
    } else if (v !== undefined) imp.error(imp.explicit(tf) ? tf : 'reject_tempfail_action', 'defer_if_permit or defer', JSON.stringify(raw));
  }
}
