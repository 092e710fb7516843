// The main.cf importer's smtpd switches and limits (HELO, VRFY, size, banner, TLS and AUTH, limits, timeout).
// Trusts the parsed main.cf; a value moat cannot honour is an error naming its line.
import type { Importer } from './import.ts';
import { parseInteger } from './params.ts';

/** smtpd's own switches and limits: HELO, VRFY, size, banner, TLS and AUTH, limits and the timeout. */
export function importSmtpd(imp: Importer): void {
  const helo = imp.bool('smtpd_helo_required');
  if (helo !== undefined) imp.set('policyd.skip.helo', helo, 'smtpd_helo_required');
  if (helo === true) imp.use('smtpd_helo_required', 'always in effect: moat answers MAIL before HELO/EHLO with 503 5.5.1 Error: send HELO/EHLO first (and policyd.skip.helo: Postfix refuses it itself)');
  else if (helo === false && imp.explicit('smtpd_helo_required')) imp.error('smtpd_helo_required', 'yes: moat always requires HELO/EHLO before MAIL', 'no');
  else if (helo === false) imp.warn('smtpd_helo_required', 'Postfix\'s default is no; moat always requires HELO/EHLO (stricter)');

  const vrfy = imp.bool('disable_vrfy_command');
  if (vrfy === true) imp.use('disable_vrfy_command', 'always in effect: VRFY and EXPN answer 502 5.5.1');
  else if (vrfy === false && imp.explicit('disable_vrfy_command')) imp.error('disable_vrfy_command', 'yes: moat never answers VRFY', 'no');
  else if (vrfy === false) imp.warn('disable_vrfy_command', 'Postfix\'s default is no; moat always refuses VRFY and EXPN (502 5.5.1)');

  const authOnly = imp.bool('smtpd_tls_auth_only');
  if (authOnly === true) {
    imp.set('mx.auth.require_tls', true, 'smtpd_tls_auth_only');
    imp.use('smtpd_tls_auth_only', 'mx.auth.require_tls = true');
  } else if (authOnly === false && imp.explicit('smtpd_tls_auth_only')) imp.error('smtpd_tls_auth_only', 'yes: moat offers AUTH only after STARTTLS', 'no');
  else if (authOnly === false) imp.warn('smtpd_tls_auth_only', 'Postfix\'s default is no; moat offers AUTH only after STARTTLS (stricter)');

  const ask = imp.bool('smtpd_tls_ask_ccert');
  if (ask !== undefined) {
    imp.set('mx.tls.request_client_cert', ask, 'smtpd_tls_ask_ccert');
    if (imp.explicit('smtpd_tls_ask_ccert')) imp.use('smtpd_tls_ask_ccert', `mx.tls.request_client_cert = ${ask}`);
  }
  const sasl = imp.bool('smtpd_sasl_auth_enable');
  if (sasl !== undefined && imp.explicit('smtpd_sasl_auth_enable')) {
    imp.use('smtpd_sasl_auth_enable', sasl ? 'AUTH is offered when mx.auth.users_file is set (moat\'s own users file)' : 'AUTH stays off unless mx.auth.users_file is set');
    if (sasl && imp.opts.authUsersFile === false) imp.warn('smtpd_sasl_auth_enable', 'yes, but moat.yaml sets no mx.auth.users_file: moat offers no AUTH until it does (Postfix\'s SASL backend is not used)');
    if (!sasl && imp.opts.authUsersFile === true) imp.warn('smtpd_sasl_auth_enable', 'no, but moat.yaml sets mx.auth.users_file: moat offers AUTH');
  }

  const size = imp.value('message_size_limit');
  if (size !== undefined) {
    const n = parseInteger(size);
    if (n === undefined) imp.error('message_size_limit', 'a number of bytes', JSON.stringify(size));
    else if (n === 0) imp.error('message_size_limit', 'a limit in bytes: moat has no "0 = unlimited"', '0');
    else {
      imp.set('mx.size_limit', n, 'message_size_limit');
      if (imp.explicit('message_size_limit')) imp.use('message_size_limit', `mx.size_limit = ${n}`);
    }
  }
  if (imp.explicit('smtpd_banner')) {
    const banner = imp.value('smtpd_banner');
    const host = imp.value('myhostname');
    if (banner !== undefined && host !== undefined) {
      const head = `${host} ESMTP`;
      if (banner === head || banner.startsWith(`${head} `)) {
        const rest = banner.slice(head.length).trim();
        imp.set('mx.banner', rest, 'smtpd_banner');
        imp.use('smtpd_banner', `mx.banner = ${JSON.stringify(rest)} (moat writes "<hostname> ESMTP " itself)`);
      } else {
        imp.error('smtpd_banner', `a greeting that starts with "$myhostname ESMTP" (${head}): moat always greets with its host name and ESMTP`, JSON.stringify(banner));
      }
    }
    if (imp.explicit('mail_name')) imp.use('mail_name', 'in $mail_name expansions (smtpd_banner)');
  }
  const ints: Array<[string, string]> = [
    ['smtpd_recipient_limit', 'mx.limits.recipients'],
    ['smtpd_hard_error_limit', 'mx.limits.errors'],
  ];
  for (const [name, path] of ints) {
    if (!imp.explicit(name)) continue;
    const v = imp.value(name);
    const n = v === undefined ? undefined : parseInteger(v);
    if (n === undefined) {
      if (v !== undefined) imp.error(name, 'a whole number', JSON.stringify(v));
      continue;
    }
    imp.set(path, n, name);
    imp.use(name, `${path} = ${n}`);
  }
  if (imp.explicit('smtpd_timeout')) imp.time('smtpd_timeout', 's', 'mx.timeouts.command');
}
