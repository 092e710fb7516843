// Maps a Postfix main.cf onto moat's config input (before validation): each key moat implements takes
// effect, each key it does not is reported once with its reason, each value it cannot honour is an error.
import { isRestrictionName, PolicyError, parseRestrictions, type Restriction } from '@moat/policy';
import { dirname } from 'node:path';
import { DNSBL_KEYS } from './dnsbl.ts';
import { importLmtpTls, LMTP_TLS_KEYS } from './lmtp-tls.ts';
import { importLists } from './restriction-lists.ts';
import { importReplyCodes, REPLY_KEYS, UNIMPLEMENTED_CODE_KEYS } from './reply-codes.ts';
import { importSmtpd } from './smtpd-keys.ts';
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
  ...REPLY_KEYS,
  ...SMTP_TLS_KEYS,
  ...LMTP_TLS_KEYS,
]);

export class Importer {
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
    importLists(this);
    importSmtpd(this);
    importReplyCodes(this);
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
      let note: string = UNIMPLEMENTED_CODE_KEYS[e.name] ?? IGNORED_CLASSES[cls];
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
