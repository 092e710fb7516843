import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigErrors, parseConfig } from '../load.ts';
import { importMainCf } from './import.ts';
import { ROUTING_KEYS } from './keys.ts';

const SEED = readFileSync(new URL('../../test/fixtures/seed-main.cf', import.meta.url), 'utf8');
const IFACES = [{ address: '127.0.0.1', prefix: 8, family: 'IPv4' as const }];
const imp = (text: string, opts = {}) => importMainCf(text, '/etc/postfix/main.cf', { interfaces: IFACES, host: 'box', ...opts });
const files = (map: Record<string, string>) => (p: string) => {
  const t = map[p];
  if (t === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
  return t;
};
const load = (yaml: string, mainCf: string, env: Record<string, string> = {}) =>
  parseConfig(yaml, { file: '/srv/moat/moat.yaml', env, readFile: files({ '/srv/moat/main.cf': mainCf, '/etc/postfix/main.cf': mainCf }) });
const errorsOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return formatConfigErrors(e);
    throw e;
  }
  throw new Error('no error');
};

describe('importMainCf: the seed', () => {
  const r = imp(SEED);
  it('has no errors, and maps every key moat implements', () => {
    expect(r.errors).toEqual([]);
    expect(r.input.policy).toMatchObject({
      hostname: 'mx.example.org',
      mynetworks: ['[::1]/128', '198.51.100.10/32', '198.51.100.11/32'],
      delay_reject: true,
      strict_rfc821_envelopes: true,
      relay_restrictions: ['permit_mynetworks', 'permit_sasl_authenticated', 'defer_unauth_destination'],
    });
    expect((r.input.policy!.recipient_restrictions as string[])[0]).toBe('check_client_access cidr:/etc/postfix/rbl_override');
    expect((r.input.policy!.recipient_restrictions as string[]).at(-1)).toBe('check_policy_service inet:127.0.0.1:10023');
    expect(r.input.mx).toEqual({ auth: { require_tls: true }, tls: { request_client_cert: true }, size_limit: 81_920_000, banner: '- SMTP BANNER GREETING' });
    expect(r.input.queue).toEqual({ delay_warning: '3600000ms', max_lifetime: '604800000ms', tls: { security_level: 'may' } });
    // behind Postfix (policyd), the checks Postfix does itself with this main.cf are skipped in the engine
    expect(r.input.policyd).toEqual({ skip: { helo: true, sender: true, recipients: true } });
    expect(r.input.recipients).toEqual({ domains: ['mx.example.org', 'example.org', 'example.net', 'example.com'], relay_domains: [], recipient_delimiter: '+' });
  });
  it('lists every other key once, each with a reason class; no key is dropped silently', () => {
    const names = [...r.used, ...r.ignored].map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
    const defined = new Set([...SEED.matchAll(/^([A-Za-z0-9_]+)\s*=/gm)].map((m) => m[1]));
    expect(new Set(names)).toEqual(defined);
    const cls = Object.fromEntries(r.ignored.map((k) => [k.name, k.class]));
    expect(cls).toMatchObject({ smtpd_tls_CAfile: 'tls', smtpd_milters: 'milter', mailbox_command: 'local-delivery', smtpd_sasl_security_options: 'sasl', myorigin: 'rewriting', readme_directory: 'installation', alias_maps: 'routing-pending' });
  });
  it('warns about the inline "#" and the IPv6 pattern Postfix never evaluates', () => {
    expect(r.warnings.filter((w) => w.name === 'smtpd_milters' || w.name === 'non_smtpd_milters').map((w) => w.line)).toEqual([77, 78]);
    expect(r.warnings.find((w) => w.name === 'mynetworks')?.note).toMatch(/\[::ffff:\]\/104.*inet_protocols = ipv4/);
  });
});

describe('importMainCf: Postfix defaults for keys main.cf leaves unset', () => {
  const r = imp('myhostname = mx.example.org\n');
  it('applies Postfix defaults where they differ from moat\'s own', () => {
    expect(r.input.policy).toMatchObject({ strict_rfc821_envelopes: false, delay_reject: true, recipient_restrictions: [], mynetworks: ['127.0.0.1/32'] });
    expect(r.input.mx).toMatchObject({ tls: { request_client_cert: false }, size_limit: 10_240_000 });
    expect(r.input.queue).toEqual({ delay_warning: '0ms', max_lifetime: '432000000ms' });
    // mydestination's default: $myhostname, localhost.$mydomain, localhost
    expect(r.input.recipients?.domains).toEqual(['mx.example.org', 'localhost.example.org']);
  });
  it('a compatibility_level below 1 empties the relay list; with no relay control anywhere Postfix would not start', () => {
    const e = imp('compatibility_level = 0\nmyhostname = mx.example.org\nsmtpd_recipient_restrictions = permit_mynetworks\n').errors;
    expect(e).toEqual([expect.objectContaining({ name: 'smtpd_relay_restrictions', found: 'both lists without one' })]);
  });
  it('the host name default follows moat.yaml\'s policy.hostname', () => {
    expect(imp('smtpd_banner = $myhostname ESMTP hi\n', { hostname: 'mail.example.net' }).input.mx).toMatchObject({ banner: 'hi' });
  });
});

describe('importMainCf: client, helo and sender lists', () => {
  it('refusing items ahead of any permit go to the head of the relay list', () => {
    const r = imp('myhostname = mx.example.org\nsmtpd_client_restrictions = reject_rbl_client zen.spamhaus.org, permit_mynetworks\nsmtpd_sender_restrictions = reject_non_fqdn_sender\n');
    expect(r.errors).toEqual([]);
    expect(r.input.policy!.relay_restrictions).toEqual(['reject_rbl_client zen.spamhaus.org', 'reject_non_fqdn_sender', 'permit_mynetworks', 'permit_sasl_authenticated', 'defer_unauth_destination']);
  });
  it('a permit before a refusal cannot be expressed: an error naming the line', () => {
    const r = imp('myhostname = mx.example.org\nsmtpd_client_restrictions =\n  permit_mynetworks,\n  reject_rbl_client zen.spamhaus.org\n');
    expect(r.errors).toEqual([expect.objectContaining({ name: 'smtpd_client_restrictions', line: 3 })]);
  });
  it('a restriction moat does not implement is an error naming its line', () => {
    const r = imp('myhostname = mx.example.org\nsmtpd_recipient_restrictions = permit_mynetworks,\n   reject_unknown_client_hostname_xyz\n');
    expect(r.errors).toEqual([expect.objectContaining({ name: 'smtpd_recipient_restrictions', line: 3, found: '"reject_unknown_client_hostname_xyz"' })]);
  });
});

describe('importMainCf: values moat cannot honour are errors', () => {
  for (const [text, name] of [
    ['smtpd_helo_required = no', 'smtpd_helo_required'],
    ['disable_vrfy_command = no', 'disable_vrfy_command'],
    ['smtpd_tls_auth_only = no', 'smtpd_tls_auth_only'],
    ['message_size_limit = 0', 'message_size_limit'],
    ['smtpd_banner = Welcome to $myhostname', 'smtpd_banner'],
    ['smtpd_delay_reject = maybe', 'smtpd_delay_reject'],
    ['mynetworks = hash:/etc/postfix/network_table', 'mynetworks'],
    ['smtpd_restriction_classes = vips', 'smtpd_restriction_classes'],
    ['smtpd_banner = ${myhostname', 'smtpd_banner'],
    ['maximal_queue_lifetime = soon', 'maximal_queue_lifetime'],
  ] as const) {
    it(text, () => {
      expect(imp(`myhostname = mx.example.org\n${text}\n`).errors).toEqual([expect.objectContaining({ name, line: 2 })]);
    });
  }
});

describe('importMainCf: routing keys', () => {
  it('with a routing section, each routing key goes to routing.<same name> (lists split, yes/no and limits typed)', () => {
    const r = imp(
      'myhostname = mx.example.org\nalias_maps = hash:/etc/aliases\nvirtual_alias_maps = hash:$config_directory/virtual, regexp:/etc/postfix/v.re\nrelayhost = [smtp.example.net]:587\nrecipient_delimiter = +-\nvirtual_alias_recursion_limit = 10\nsmtpd_reject_unlisted_sender = yes\n',
      { routingSection: true },
    );
    expect(r.errors).toEqual([]);
    expect(r.input.routing).toEqual({
      mydestination: ['mx.example.org', 'localhost.example.org', 'localhost'],
      alias_maps: ['hash:/etc/aliases'],
      virtual_alias_domains: ['hash:/etc/postfix/virtual', 'regexp:/etc/postfix/v.re'],
      virtual_alias_maps: ['hash:/etc/postfix/virtual', 'regexp:/etc/postfix/v.re'],
      virtual_mailbox_domains: [],
      relay_domains: [],
      relayhost: '[smtp.example.net]:587',
      recipient_delimiter: '+-',
      virtual_alias_recursion_limit: 10,
      smtpd_reject_unlisted_recipient: true,
      smtpd_reject_unlisted_sender: true,
    });
    expect(Object.keys(r.input.routing!).every((k) => k in ROUTING_KEYS)).toBe(true);
  });
  it('without one, routing keys moat cannot apply yet are listed as pending, never dropped', () => {
    const r = imp('myhostname = mx.example.org\ntransport_maps = hash:/etc/postfix/transport\n');
    expect(r.ignored).toEqual([expect.objectContaining({ name: 'transport_maps', class: 'routing-pending', line: 2 })]);
  });
});

describe('loading moat.yaml with postfix.main_cf', () => {
  const MAIN = 'myhostname = mx.example.org\nmydestination = example.org\nmessage_size_limit = 2000000\nmynetworks = 10.0.0.0/8\n';
  it('main.cf fills what moat.yaml leaves unset; moat.yaml wins where it sets a key, and the report says so', () => {
    const c = load('postfix:\n  main_cf: main.cf\nmx:\n  size_limit: 5000000\n', MAIN);
    expect(c.policy.hostname).toBe('mx.example.org');
    expect(c.mx.hostname).toBe('mx.example.org');
    expect(c.policy.mynetworks).toEqual(['10.0.0.0/8']);
    expect(c.mx.size_limit).toBe(5_000_000);
    expect(c.routing.mydestination).toContain('example.org');
    expect(c.source.postfix?.overridden).toEqual([{ name: 'message_size_limit', line: 3, path: 'mx.size_limit' }]);
  });
  it('MOAT_POSTFIX_MAIN_CF names the file too', () => {
    expect(load('{}\n', MAIN, { MOAT_POSTFIX_MAIN_CF: '/etc/postfix/main.cf' }).policy.hostname).toBe('mx.example.org');
  });
  it('errors name main.cf and the line', () => {
    expect(errorsOf(() => load('postfix: { main_cf: main.cf }\n', `${MAIN}smtpd_helo_required = no\n`))).toBe(
      '/srv/moat/main.cf:5:1: smtpd_helo_required: yes: moat always requires HELO/EHLO before MAIL; found no',
    );
    expect(errorsOf(() => load('postfix: { main_cf: main.cf }\n', `${MAIN}junk here\n`))).toMatch(/^\/srv\/moat\/main\.cf:5:1: \(syntax\): name = value/);
    expect(errorsOf(() => load('postfix: { main_cf: nope.cf }\n', MAIN))).toBe('/srv/moat/nope.cf: postfix.main_cf: a readable Postfix main.cf; found no such file');
  });
  it('a schema error in a value that came from main.cf points at main.cf', () => {
    expect(errorsOf(() => load('postfix: { main_cf: main.cf }\n', `${MAIN}message_size_limit = 100\n`))).toMatch(/^\/srv\/moat\/main\.cf:5:1: mx\.size_limit: .*\(from main\.cf message_size_limit\); found number 100$/);
  });
});

describe('importMainCf: keys Postfix does not know', () => {
  it('a misspelt key is told apart from one moat ignores; a user-defined one used in $-expansions is said so', () => {
    const r = imp('myhostname = mx.example.org\nsmtpd_helo_requird = yes\nmy_relays = 192.0.2.1\nmynetworks = $my_relays\n');
    expect(r.ignored.map((k) => [k.name, k.class, k.note.slice(0, 12)])).toEqual([
      ['smtpd_helo_requird', 'unknown', 'not a built-'],
      ['my_relays', 'unknown', 'user-defined'],
    ]);
  });
});

describe('importMainCf: a "#" after a value', () => {
  it('is part of the value, as in Postfix: a mapped key then fails with a warning saying why', () => {
    const r = imp('myhostname = mx.example.org\nmessage_size_limit = 10240000 # 10 MB\n');
    expect(r.errors).toEqual([expect.objectContaining({ name: 'message_size_limit', line: 2, found: '"10240000 # 10 MB"' })]);
    expect(r.warnings).toContainEqual(expect.objectContaining({ name: 'message_size_limit', line: 2 }));
  });
});

describe('smtpd_sender_login_maps', () => {
  it('feeds policy.sender_login_maps, so the *_sender_login_mismatch restrictions have their owners', () => {
    const r = imp('myhostname = mx.example.org\nsmtpd_sender_login_maps = hash:/etc/postfix/sender_login, regexp:/etc/postfix/login.re\n');
    expect(r.input.policy?.sender_login_maps).toEqual(['hash:/etc/postfix/sender_login', 'regexp:/etc/postfix/login.re']);
    expect(r.ignored.map((k) => k.name)).not.toContain('smtpd_sender_login_maps');
  });
});
