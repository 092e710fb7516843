// Maps a Postfix main.cf onto moat's config input (before validation): each key moat implements takes
// effect, each key it does not is reported once with its reason, each value it cannot honour is an error.
import { formatRestriction, isRestrictionName, PolicyError, parseRestrictions, type Restriction } from '@moat/policy';
import { dirname } from 'node:path';
import { DNSBL_KEYS, importDnsbl } from './dnsbl.ts';
import { importLmtpTls, LMTP_TLS_KEYS } from './lmtp-tls.ts';
import { importSmtpTls, SMTP_TLS_KEYS } from './smtp-tls.ts';
import { ExpandError } from './expand.ts';
import { IGNORED_CLASSES, type IgnoredClass, ignoredClassOf, ROUTING_KEYS } from './keys.ts';
import { type MainCf, parseMainCf } from './main-cf.ts';
import { POSTFIX_PARAMETER_NAMES } from './parameter-names.ts';
import { defaultNetworks, type Interface, parseNetworks } from './mynetworks.ts';
import { createParams, parseBool, parseInteger, parseTime, type PostfixParams, splitList } from './params.ts';

/** One main.cf key in the import report. */
export interface KeyReport {
  name: string;
  /** Its line in main.cf (absent for a default moat applied). */
  line?: number | undefined;
  /** What moat did with it, or why not. */
  note: string;
  /** Ignored keys: the reason class (tls, milter, local-delivery, ...). */
  class?: IgnoredClass | 'routing-pending' | undefined;
}

/** A value moat cannot honour: main.cf, line, key, what moat needs and what was written. */
export interface ImportError {
  name: string;
  line?: number | undefined;
  expected: string;
  found: string;
}

export interface MainCfImport {
  file: string;
  /** Config input made from main.cf, laid under moat.yaml (moat.yaml's own keys win). */
  input: Record<string, Record<string, unknown>>;
  /** Which main.cf key produced each config path (dotted), for errors and for "moat.yaml wins" notes. */
  origin: Record<string, { name: string; line?: number | undefined }>;
  used: KeyReport[];
  ignored: KeyReport[];
  warnings: KeyReport[];
  errors: ImportError[];
}

export interface ImportOptions {
  /** Reads /file/name patterns in mynetworks (tests replace it). */
  readFile?: (path: string) => string;
  /** moat.yaml's policy.hostname, when set: stands for myhostname's default (Postfix would take the host's name). */
  hostname?: string | undefined;
  /** The machine's interfaces for mynetworks' default (os.networkInterfaces() otherwise). */
  interfaces?: readonly Interface[];
  /** The machine's host name for myhostname's default (os.hostname() otherwise). */
  host?: string;
  /** Whether moat.yaml sets mx.auth.users_file (moat's AUTH backend). */
  authUsersFile?: boolean;
  /** Whether the config schema has a `routing:` section (routing keys are otherwise reported as pending). */
  routingSection?: boolean;
}

/** The compatibility_level moat assumes when main.cf sets none (Debian's packaged main.cf sets 3.6). */
export const ASSUMED_COMPATIBILITY_LEVEL = '3.6';

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

/** Keys this module maps itself (besides ROUTING_KEYS); each handler below reads one or more of them. */
const MAPPED = new Set([
  'myhostname',
  'mydomain',
  'mynetworks',
  'mynetworks_style',
  'compatibility_level',
  'smtpd_delay_reject',
  'strict_rfc821_envelopes',
  'smtpd_helo_required',
  'smtpd_client_restrictions',
  'smtpd_helo_restrictions',
  'smtpd_sender_restrictions',
  'smtpd_relay_restrictions',
  'smtpd_recipient_restrictions',
  'smtpd_data_restrictions',
  'smtpd_end_of_data_restrictions',
  'smtpd_etrn_restrictions',
  'smtpd_restriction_classes',
  'message_size_limit',
  'smtpd_banner',
  'mail_name',
  'delay_warning_time',
  'maximal_queue_lifetime',
  'disable_vrfy_command',
  'smtpd_tls_auth_only',
  'smtpd_tls_ask_ccert',
  'smtpd_sasl_auth_enable',
  'smtpd_recipient_limit',
  'smtpd_hard_error_limit',
  'smtpd_timeout',
  'smtpd_sender_login_maps',
  ...DNSBL_KEYS,
  ...SMTP_TLS_KEYS,
  ...LMTP_TLS_KEYS,
]);

class Importer {
  readonly input: Record<string, Record<string, unknown>> = {};
  readonly origin: MainCfImport['origin'] = {};
  readonly used: KeyReport[] = [];
  readonly ignored: KeyReport[] = [];
  readonly warnings: KeyReport[] = [];
  readonly errors: ImportError[] = [];
  private readonly seen = new Set<string>();
  private readonly lines: string[];
  readonly cf: MainCf;
  readonly p: PostfixParams;
  readonly opts: ImportOptions;

  constructor(cf: MainCf, p: PostfixParams, text: string, opts: ImportOptions) {
    this.cf = cf;
    this.p = p;
    this.opts = opts;
    this.lines = text.split('\n');
  }

  line(name: string): number | undefined {
    return this.cf.entries.get(name)?.line;
  }
  explicit(name: string): boolean {
    return this.cf.entries.has(name);
  }
  /** The expanded value, or undefined after recording an expansion error. */
  value(name: string): string | undefined {
    try {
      return this.p.get(name);
    } catch (e) {
      if (!(e instanceof ExpandError)) throw e;
      this.error(name, 'a value Postfix can expand', e.message.replace(`${name}: `, ''));
      return undefined;
    }
  }
  set(path: string, value: unknown, name: string): void {
    const [section, ...rest] = path.split('.');
    const key = rest.join('.');
    this.input[section!] ??= {};
    let node = this.input[section!]!;
    const parts = key.split('.');
    for (const k of parts.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = value;
    this.origin[path] = { name, line: this.line(name) };
  }
  use(name: string, note: string): void {
    this.seen.add(name);
    this.used.push({ name, line: this.line(name), note });
  }
  warn(name: string, note: string, line = this.line(name)): void {
    this.warnings.push({ name, line, note });
  }
  error(name: string, expected: string, found: string, line = this.line(name)): void {
    this.seen.add(name);
    this.errors.push({ name, line, expected, found });
  }
  /** The line of `item` inside a multi-line definition (first physical line holding it). */
  itemLine(name: string, item: string): number | undefined {
    const e = this.cf.entries.get(name);
    if (!e) return undefined;
    for (let l = e.line; l <= e.lastLine; l++) if (this.lines[l - 1]?.includes(item)) return l;
    return e.line;
  }

  bool(name: string): boolean | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    const b = parseBool(v);
    if (b === undefined) this.error(name, 'yes or no', JSON.stringify(v));
    return b;
  }

  /** A restriction list, parsed; undefined (with an error naming file:line) when moat cannot read it. */
  restrictions(name: string): Restriction[] | undefined {
    const v = this.value(name);
    if (v === undefined) return undefined;
    try {
      return parseRestrictions(v);
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      const hint = isRestrictionName(e.item.split(/\s+/)[0] ?? '') ? '' : ' (moat does not implement it; remove it or replace it with one moat knows)';
      this.error(name, `${e.reason}${hint}`, JSON.stringify(e.item), this.itemLine(name, e.item.split(/\s+/)[0] ?? e.item));
      return undefined;
    }
  }

  run(): void {
    this.identity();
    this.networks();
    this.lists();
    this.smtpd();
    this.queue();
    this.routing();
    this.rest();
  }

  identity(): void {
    const host = this.value('myhostname');
    if (host !== undefined) {
      if (this.explicit('myhostname')) {
        this.set('policy.hostname', host, 'myhostname');
        this.use('myhostname', 'policy.hostname (and mx.hostname, the greeting and EHLO name)');
      } else if (this.opts.hostname === undefined) {
        this.set('policy.hostname', host, 'myhostname');
        this.warnings.push({ name: 'myhostname', note: `unset: Postfix's default, this host's name ${JSON.stringify(host)}, becomes policy.hostname; set myhostname (or policy.hostname)` });
      }
    }
    if (this.explicit('mydomain')) this.use('mydomain', 'in $mydomain expansions (mydestination\'s default names localhost.$mydomain)');
    if (this.explicit('compatibility_level')) this.use('compatibility_level', 'chooses Postfix\'s defaults (smtpd_relay_restrictions, relay_domains, mynetworks_style)');
    else this.warn('compatibility_level', `unset: moat assumes ${ASSUMED_COMPATIBILITY_LEVEL} (Debian's packaged main.cf), not Postfix's built-in 0, whose empty smtpd_relay_restrictions and relay_domains = $mydestination make Postfix refuse lists like the seed's; set it to silence this`);
  }

  networks(): void {
    const protocols = this.value('inet_protocols') ?? 'all';
    const read = this.opts.readFile ?? (() => {
      throw new Error('no reader');
    });
    if (this.explicit('mynetworks')) {
      const v = this.value('mynetworks');
      if (v === undefined) return;
      const r = parseNetworks(v, protocols, read);
      for (const pr of r.problems) {
        if (pr.harmless) this.warn('mynetworks', `${pr.item}: ${pr.message}`, this.itemLine('mynetworks', pr.item));
        else this.error('mynetworks', pr.message, JSON.stringify(pr.item), this.itemLine('mynetworks', pr.item));
      }
      this.set('policy.mynetworks', r.networks, 'mynetworks');
      this.use('mynetworks', `policy.mynetworks: ${r.networks.join(' ') || '(none)'}`);
      if (this.explicit('mynetworks_style')) this.use('mynetworks_style', 'no effect: mynetworks is set');
    } else {
      const style = this.value('mynetworks_style');
      if (style === undefined) return;
      const r = defaultNetworks(style, protocols, this.opts.interfaces);
      if (typeof r === 'string') {
        this.error('mynetworks_style', 'host, subnet or class', JSON.stringify(style));
        return;
      }
      this.set('policy.mynetworks', r.networks, this.explicit('mynetworks_style') ? 'mynetworks_style' : 'mynetworks');
      if (this.explicit('mynetworks_style')) this.use('mynetworks_style', `policy.mynetworks from this host's interfaces: ${r.networks.join(' ')}`);
      else this.warn('mynetworks', `unset: Postfix's default (mynetworks_style = ${style}) over this host's interfaces gives ${r.networks.join(' ')}; set mynetworks to be explicit`);
    }
    if (this.explicit('inet_protocols')) this.use('inet_protocols', 'which address families mynetworks may match; moat\'s listeners are mx.listen');
  }

  lists(): void {
    const delay = this.bool('smtpd_delay_reject');
    if (delay !== undefined) {
      this.set('policy.delay_reject', delay, 'smtpd_delay_reject');
      if (this.explicit('smtpd_delay_reject')) this.use('smtpd_delay_reject', `policy.delay_reject = ${delay}`);
    }
    const strict = this.bool('strict_rfc821_envelopes');
    if (strict !== undefined) {
      this.set('policy.strict_rfc821_envelopes', strict, 'strict_rfc821_envelopes');
      // behind Postfix (policyd), Postfix itself checks the raw envelope when this is yes
      this.set('policyd.skip.sender', strict, 'strict_rfc821_envelopes');
      if (this.explicit('strict_rfc821_envelopes')) this.use('strict_rfc821_envelopes', `policy.strict_rfc821_envelopes = ${strict} (and policyd.skip.sender)`);
    }
    // the tables behind reject_*_sender_login_mismatch: without them those restrictions could check nothing
    const logins = this.explicit('smtpd_sender_login_maps') ? this.value('smtpd_sender_login_maps') : undefined;
    if (logins !== undefined) {
      const maps = logins.split(/[\s,]+/).filter((m) => m !== '');
      this.set('policy.sender_login_maps', maps, 'smtpd_sender_login_maps');
      this.use('smtpd_sender_login_maps', `policy.sender_login_maps = ${maps.join(', ') || '(none)'}`);
    }
    for (const name of ['smtpd_restriction_classes', 'smtpd_data_restrictions', 'smtpd_end_of_data_restrictions', 'smtpd_etrn_restrictions']) {
      const v = this.value(name);
      if (v !== undefined && v.trim() !== '') this.error(name, 'empty: moat evaluates restrictions at RCPT only (no restriction classes, DATA, END-OF-DATA or ETRN lists)', JSON.stringify(v));
    }

    // smtpd_client/helo/sender_restrictions: Postfix runs each list in turn at RCPT (with delay_reject), a permit
    // ending only its own list. A list whose refusing items all come before any permitting item is the same as
    // those items at the head of the relay list (evaluated first); anything else cannot be expressed.
    const prefix: Restriction[] = [];
    let prefixFrom: string | undefined;
    for (const name of ['smtpd_client_restrictions', 'smtpd_helo_restrictions', 'smtpd_sender_restrictions']) {
      const list = this.restrictions(name);
      if (list === undefined || list.length === 0) continue;
      let last = -1;
      list.forEach((r, i) => {
        if (mayRefuse(r.type)) last = i;
      });
      if (last < 0) {
        this.use(name, `no effect: none of ${list.map(formatRestriction).join(', ')} can refuse, and a permit ends only this list`);
        continue;
      }
      const blocker = list.slice(0, last + 1).find((r) => mayPermit(r.type));
      if (blocker !== undefined) {
        this.error(
          name,
          'a list moat can express: its refusing items before any permitting one (moat has one relay and one recipient list; put the checks in smtpd_recipient_restrictions)',
          `${formatRestriction(blocker)} may permit before ${formatRestriction(list[last]!)}`,
          this.itemLine(name, formatRestriction(blocker).split(' ')[0]!),
        );
        continue;
      }
      prefix.push(...list.slice(0, last + 1));
      prefixFrom ??= name;
      this.use(name, `at the head of policy.relay_restrictions (evaluated first, as Postfix evaluates it before the relay list): ${list.slice(0, last + 1).map(formatRestriction).join(', ')}`);
    }

    const relay = this.restrictions('smtpd_relay_restrictions');
    const rcpt = this.restrictions('smtpd_recipient_restrictions');
    if (relay !== undefined && rcpt !== undefined) {
      const relayControl = (l: Restriction[]) => l.some((r) => ['reject_unauth_destination', 'defer_unauth_destination', 'reject', 'defer'].includes(r.type));
      if (relay.length === 0) {
        if (!relayControl(rcpt)) {
          this.error('smtpd_relay_restrictions', 'at least one working instance of reject_unauth_destination, defer_unauth_destination, reject or defer in smtpd_relay_restrictions or smtpd_recipient_restrictions (Postfix refuses to start without)', 'both lists without one');
        } else {
          this.error('smtpd_relay_restrictions', 'a relay list: moat keeps relay control apart from the spam policy (Postfix 2.10+); move permit_mynetworks, permit_sasl_authenticated and reject_unauth_destination into smtpd_relay_restrictions', 'empty (relay control inside smtpd_recipient_restrictions)');
        }
      } else {
        // named after the explicit key that shaped it, so "moat.yaml wins" is reported against that line
        const from = this.explicit('smtpd_relay_restrictions') ? 'smtpd_relay_restrictions' : (prefixFrom ?? 'smtpd_relay_restrictions');
        this.set('policy.relay_restrictions', [...prefix, ...relay].map(formatRestriction), from);
        if (this.explicit('smtpd_relay_restrictions')) this.use('smtpd_relay_restrictions', 'policy.relay_restrictions');
        else this.warn('smtpd_relay_restrictions', `unset: Postfix's default applies: ${relay.map(formatRestriction).join(', ')}`);
      }
      this.set('policy.recipient_restrictions', rcpt.map(formatRestriction), 'smtpd_recipient_restrictions');
      if (this.explicit('smtpd_recipient_restrictions')) this.use('smtpd_recipient_restrictions', `policy.recipient_restrictions (${rcpt.length} items)`);
      else this.warn('smtpd_recipient_restrictions', 'unset: Postfix\'s default is empty, so moat\'s shipped spam policy is replaced by nothing; set it (or policy.recipient_restrictions)');
      for (const r of rcpt) {
        if (r.type === 'check_policy_service' && r.service !== undefined) this.warn('smtpd_recipient_restrictions', `check_policy_service ${r.service}: moat answers it with its own shared greylist (greylist:), not by calling that service`, this.itemLine('smtpd_recipient_restrictions', r.service));
      }
    }
    const scored = [...prefix, ...(relay ?? []), ...(rcpt ?? [])].some((r) => r.type === 'reject_dnsbl_score' || r.type === 'permit_dnsbl_score');
    importDnsbl(this, scored);
  }

  smtpd(): void {
    const helo = this.bool('smtpd_helo_required');
    if (helo !== undefined) this.set('policyd.skip.helo', helo, 'smtpd_helo_required');
    if (helo === true) this.use('smtpd_helo_required', 'always in effect: moat answers MAIL before HELO/EHLO with 503 5.5.1 Error: send HELO/EHLO first (and policyd.skip.helo: Postfix refuses it itself)');
    else if (helo === false && this.explicit('smtpd_helo_required')) this.error('smtpd_helo_required', 'yes: moat always requires HELO/EHLO before MAIL', 'no');
    else if (helo === false) this.warn('smtpd_helo_required', 'Postfix\'s default is no; moat always requires HELO/EHLO (stricter)');

    const vrfy = this.bool('disable_vrfy_command');
    if (vrfy === true) this.use('disable_vrfy_command', 'always in effect: VRFY and EXPN answer 502 5.5.1');
    else if (vrfy === false && this.explicit('disable_vrfy_command')) this.error('disable_vrfy_command', 'yes: moat never answers VRFY', 'no');
    else if (vrfy === false) this.warn('disable_vrfy_command', 'Postfix\'s default is no; moat always refuses VRFY and EXPN (502 5.5.1)');

    const authOnly = this.bool('smtpd_tls_auth_only');
    if (authOnly === true) {
      this.set('mx.auth.require_tls', true, 'smtpd_tls_auth_only');
      this.use('smtpd_tls_auth_only', 'mx.auth.require_tls = true');
    } else if (authOnly === false && this.explicit('smtpd_tls_auth_only')) this.error('smtpd_tls_auth_only', 'yes: moat offers AUTH only after STARTTLS', 'no');
    else if (authOnly === false) this.warn('smtpd_tls_auth_only', 'Postfix\'s default is no; moat offers AUTH only after STARTTLS (stricter)');

    const ask = this.bool('smtpd_tls_ask_ccert');
    if (ask !== undefined) {
      this.set('mx.tls.request_client_cert', ask, 'smtpd_tls_ask_ccert');
      if (this.explicit('smtpd_tls_ask_ccert')) this.use('smtpd_tls_ask_ccert', `mx.tls.request_client_cert = ${ask}`);
    }
    const sasl = this.bool('smtpd_sasl_auth_enable');
    if (sasl !== undefined && this.explicit('smtpd_sasl_auth_enable')) {
      this.use('smtpd_sasl_auth_enable', sasl ? 'AUTH is offered when mx.auth.users_file is set (moat\'s own users file)' : 'AUTH stays off unless mx.auth.users_file is set');
      if (sasl && this.opts.authUsersFile === false) this.warn('smtpd_sasl_auth_enable', 'yes, but moat.yaml sets no mx.auth.users_file: moat offers no AUTH until it does (Postfix\'s SASL backend is not used)');
      if (!sasl && this.opts.authUsersFile === true) this.warn('smtpd_sasl_auth_enable', 'no, but moat.yaml sets mx.auth.users_file: moat offers AUTH');
    }

    const size = this.value('message_size_limit');
    if (size !== undefined) {
      const n = parseInteger(size);
      if (n === undefined) this.error('message_size_limit', 'a number of bytes', JSON.stringify(size));
      else if (n === 0) this.error('message_size_limit', 'a limit in bytes: moat has no "0 = unlimited"', '0');
      else {
        this.set('mx.size_limit', n, 'message_size_limit');
        if (this.explicit('message_size_limit')) this.use('message_size_limit', `mx.size_limit = ${n}`);
      }
    }
    if (this.explicit('smtpd_banner')) {
      const banner = this.value('smtpd_banner');
      const host = this.value('myhostname');
      if (banner !== undefined && host !== undefined) {
        const head = `${host} ESMTP`;
        if (banner === head || banner.startsWith(`${head} `)) {
          const rest = banner.slice(head.length).trim();
          this.set('mx.banner', rest, 'smtpd_banner');
          this.use('smtpd_banner', `mx.banner = ${JSON.stringify(rest)} (moat writes "<hostname> ESMTP " itself)`);
        } else {
          this.error('smtpd_banner', `a greeting that starts with "$myhostname ESMTP" (${head}): moat always greets with its host name and ESMTP`, JSON.stringify(banner));
        }
      }
      if (this.explicit('mail_name')) this.use('mail_name', 'in $mail_name expansions (smtpd_banner)');
    }
    const ints: Array<[string, string]> = [
      ['smtpd_recipient_limit', 'mx.limits.recipients'],
      ['smtpd_hard_error_limit', 'mx.limits.errors'],
    ];
    for (const [name, path] of ints) {
      if (!this.explicit(name)) continue;
      const v = this.value(name);
      const n = v === undefined ? undefined : parseInteger(v);
      if (n === undefined) {
        if (v !== undefined) this.error(name, 'a whole number', JSON.stringify(v));
        continue;
      }
      this.set(path, n, name);
      this.use(name, `${path} = ${n}`);
    }
    if (this.explicit('smtpd_timeout')) this.time('smtpd_timeout', 's', 'mx.timeouts.command');
  }

  time(name: string, unit: 's' | 'h' | 'd', path: string): void {
    const v = this.value(name);
    if (v === undefined) return;
    const ms = parseTime(v, unit);
    if (ms === undefined) {
      this.error(name, `a time such as 300s, 1h, 7d (a bare number is in ${unit})`, JSON.stringify(v));
      return;
    }
    this.set(path, `${ms}ms`, name);
    if (this.explicit(name)) this.use(name, `${path} = ${v}`);
  }

  queue(): void {
    this.time('delay_warning_time', 'h', 'queue.delay_warning');
    this.time('maximal_queue_lifetime', 'd', 'queue.max_lifetime');
    importSmtpTls(this);
    importLmtpTls(this);
  }

  routing(): void {
    for (const [name, spec] of Object.entries(ROUTING_KEYS)) {
      if (!this.explicit(name) && !spec.withDefault) continue;
      const v = this.value(name);
      if (v === undefined) continue;
      let out: unknown = v;
      if (spec.kind === 'list') out = splitList(v);
      else if (spec.kind === 'bool') {
        out = parseBool(v);
        if (out === undefined) {
          this.error(name, 'yes or no', JSON.stringify(v));
          continue;
        }
      } else if (spec.kind === 'int') {
        out = parseInteger(v);
        if (out === undefined) {
          this.error(name, 'a whole number', JSON.stringify(v));
          continue;
        }
      }
      if (name === 'smtpd_reject_unlisted_recipient') {
        // behind Postfix (policyd), Postfix refuses unlisted recipients itself when this is yes
        this.set('policyd.skip.recipients', out, name);
        if (!this.opts.routingSection && this.explicit(name)) {
          this.use(name, 'policyd.skip.recipients (the mx side waits for the routing: section)');
          continue;
        }
      }
      if (this.opts.routingSection) {
        this.set(`routing.${name}`, out, name);
        if (this.explicit(name)) this.use(name, `routing.${name}`);
      } else if (spec.bridge !== undefined) {
        this.bridge(name, spec.bridge, out);
      } else if (this.explicit(name)) {
        this.seen.add(name);
        this.ignored.push({ name, line: this.line(name), class: 'routing-pending', note: 'routing: this build has no routing section yet; the value is read but not applied' });
      }
      if (!this.explicit(name)) this.origin[`routing.${name}`] = { name };
    }
    if (!this.opts.routingSection) {
      const domains = this.bridged.get('recipients.domains');
      if (domains !== undefined) this.set('recipients.domains', [...new Set(domains)], 'mydestination');
      const relay = this.bridged.get('recipients.relay_domains');
      if (relay !== undefined) this.set('recipients.relay_domains', [...new Set(relay)], 'relay_domains');
    }
    // relay_domains' default follows compatibility_level; say which one applies when it matters
    if (!this.explicit('relay_domains') && (this.value('relay_domains') ?? '') !== '') {
      this.warn('relay_domains', `unset: Postfix's default at this compatibility_level is ${JSON.stringify(this.value('relay_domains'))}`);
    }
  }

  private readonly bridged = new Map<string, string[]>();

  /** Without a routing section: domain lists and the delimiter go to `recipients:` (names only). */
  bridge(name: string, path: string, out: unknown): void {
    if (path === 'recipients.recipient_delimiter') {
      this.set(path, out, name);
      if (this.explicit(name)) this.use(name, `${path} (routing: section pending)`);
      return;
    }
    const items = out as string[];
    const names = items.filter((d) => /^[A-Za-z0-9.-]+\.[A-Za-z0-9-]+\.?$/.test(d));
    const left = items.filter((d) => !names.includes(d));
    const list = this.bridged.get(path) ?? [];
    list.push(...names.map((d) => d.toLowerCase().replace(/\.$/, '')));
    this.bridged.set(path, list);
    if (this.explicit(name)) this.use(name, `${path}: ${names.join(', ') || '(none)'} (routing: section pending)`);
    if (left.length > 0) this.warn(name, `${left.join(', ')}: not applied until the routing: section lands (moat's recipients: takes domain names only; lookup tables and dotless names like localhost are left out)`);
  }

  /** Every other key: reported once as ignored, with its class and reason. */
  rest(): void {
    for (const name of MAPPED) if (this.explicit(name) && !this.seen.has(name) && !this.used.some((u) => u.name === name)) this.use(name, 'read; Postfix\'s value matches moat\'s behaviour');
    const referenced = new Set<string>();
    for (const e of this.cf.entries.values()) for (const m of e.value.matchAll(/\$\{?\(?([A-Za-z0-9_]+)/g)) referenced.add(m[1]!);
    for (const e of this.cf.entries.values()) {
      if (MAPPED.has(e.name) || Object.hasOwn(ROUTING_KEYS, e.name) || this.seen.has(e.name) || this.used.some((u) => u.name === e.name)) continue;
      let cls = ignoredClassOf(e.name);
      if (cls === 'other' && !POSTFIX_PARAMETER_NAMES.has(e.name)) cls = 'unknown';
      let note: string = IGNORED_CLASSES[cls];
      if (cls === 'unknown' && referenced.has(e.name)) note = 'user-defined: only used in $-expansions of other values';
      this.ignored.push({ name: e.name, line: e.line, class: cls, note });
    }
    for (const e of this.cf.entries.values()) {
      if (/\s#/.test(e.value)) this.warn(e.name, `the text after "#" is part of the value: Postfix only treats whole lines starting with # as comments (${JSON.stringify(e.value)})`, e.line);
    }
    for (const name of this.p.undefinedNames) this.warn(name, 'referenced as $name but defined nowhere: expanded as empty, as Postfix does', undefined);
  }
}

/** Imports main.cf text. Never throws for bad input: errors are in the result, each with its line. */
export function importMainCf(text: string, file: string, opts: ImportOptions = {}): MainCfImport {
  const cf = parseMainCf(text, file);
  const defaults: Record<string, string> = { config_directory: dirname(file) };
  if (opts.hostname !== undefined) defaults.myhostname = opts.hostname;
  if (!cf.entries.has('compatibility_level')) defaults.compatibility_level = ASSUMED_COMPATIBILITY_LEVEL;
  const params = createParams(cf, { defaults, ...(opts.host !== undefined ? { host: opts.host } : {}) });
  const imp = new Importer(cf, params, text, opts);
  for (const pr of cf.problems) {
    if (pr.severity === 'fatal') imp.errors.push({ name: '(syntax)', line: pr.line, expected: 'name = value (Postfix refuses this file)', found: pr.message });
    else imp.warnings.push({ name: pr.name ?? '(syntax)', line: pr.line, note: pr.message });
  }
  imp.run();
  return { file, input: imp.input, origin: imp.origin, used: imp.used, ignored: imp.ignored, warnings: imp.warnings, errors: imp.errors };
}
