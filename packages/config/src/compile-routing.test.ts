import { createAddressResolver, createMemoryTable, recipientPortFromResolver } from '@moat/address';
import type { LookupTable } from '@moat/maps';
import { createStaticRecipients } from '@moat/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileConfig } from './compile.ts';
import { compileRouting } from './compile-routing.ts';
import { lintRouting, splitPostfixList } from './sections/routing.ts';
import { ConfigError, formatConfigErrors, parseConfig } from './load.ts';

const BASE = 'policy:\n  hostname: mx.example.org\n  my_addresses: [192.0.2.25]\nrecipients:\n  domains: [example.org]\n  users: [alice@example.org]\n';
const files: Record<string, Record<string, string>> = {
  'texthash:/etc/moat/virtual': { 'alias.example': 'x', 'info@alias.example': 'alice@example.org', 'team@alias.example': 'alice@example.org, bob@remote.example' },
  'texthash:/etc/moat/aliases': { postmaster: 'alice@example.org', abuse: 'postmaster' },
  'texthash:/etc/moat/transport': { 'relay.example': 'smtp:[primary.relay.example]:2525', '.sub.example': 'lmtp:unix:/run/lmtp' },
  'texthash:/etc/moat/relay_recipients': { 'known@relay.example': 'OK' },
};
const openTable = (spec: string): LookupTable => {
  const entries = files[spec];
  if (!entries) throw new Error('no such file');
  return createMemoryTable(spec, Object.entries(entries));
};
const compile = (routing: string, rest = '') => {
  const config = parseConfig(`${BASE}${rest}routing:\n${routing}`, { file: '/etc/moat/moat.yaml', env: {} });
  return compileRouting(config, { openTable, recipients: compileConfig(config, { openTable }).recipientOptions });
};
const resolver = (routing: string, rest = '') => createAddressResolver(compile(routing, rest).spec);

describe('compileRouting', () => {
  it("Postfix's defaults, with moat's mailbox delivery", () => {
    const c = compile('  relay_domains: []\n');
    expect(c.spec.mydestination).toEqual(['mx.example.org', 'localhost.example.org', 'localhost']);
    expect(c.spec.localTransport).toMatchObject({ transport: 'maildir', path: '/var/mail/moat' });
    expect(c.spec.virtualTransport).toMatchObject({ transport: 'maildir' });
    expect(c.spec.relayTransport).toMatchObject({ transport: 'smtp', host: undefined, mx: true });
    expect(c.spec.recipientDelimiter).toBe('+');
    expect(c.spec.virtualAliasRecursionLimit).toBe(1000);
    expect(c.smtpdRejectUnlistedRecipient).toBe(true);
    expect(c.smtpdRejectUnlistedSender).toBe(false);
    const r = createAddressResolver(c.spec);
    expect(r.classify('x@mx.example.org')).toBe('local');
    expect(r.classify('x@[192.0.2.25]')).toBe('local');
    // moat's default local_recipient_maps: nobody but postmaster and the aliases.
    expect(r.resolve('root@mx.example.org')).toMatchObject({ ok: false, text: 'User unknown in local recipient table' });
    expect(r.resolve('postmaster@mx.example.org').ok).toBe(true);
    // recipients: users are the virtual mailbox table of recipients.domains.
    expect(r.resolve('alice+tag@example.org')).toMatchObject({ ok: true, class: 'virtual-mailbox' });
    expect(r.resolve('bob@example.org')).toMatchObject({ ok: false, text: 'User unknown in virtual mailbox table' });
  });
  it('an empty local_recipient_maps accepts every local part (Postfix)', () => {
    expect(resolver("  local_recipient_maps: ''\n").resolve('root@localhost').ok).toBe(true);
    expect(resolver('  local_recipient_maps: []\n').resolve('root@localhost').ok).toBe(true);
  });
  it('virtual_alias_domains defaults to $virtual_alias_maps; alias_maps feed local_recipient_maps', () => {
    const r = resolver('  virtual_alias_maps: texthash:/etc/moat/virtual\n  alias_maps: texthash:/etc/moat/aliases\n');
    expect(r.classify('x@alias.example')).toBe('virtual-alias');
    expect(r.resolve('team@alias.example')).toMatchObject({ ok: true, recipients: [{ address: 'alice@example.org' }, { address: 'bob@remote.example' }] });
    expect(r.resolve('nobody@alias.example')).toMatchObject({ ok: false, text: 'User unknown in virtual alias table' });
    expect(r.resolve('abuse@localhost')).toMatchObject({ ok: true, recipients: [{ address: 'alice@example.org', class: 'virtual-mailbox' }] });
  });
  it('relay domains, relay_recipient_maps, transport_maps and relayhost', () => {
    const r = resolver(
      '  relay_domains: relay.example\n  relay_recipient_maps: [texthash:/etc/moat/relay_recipients]\n  transport_maps: texthash:/etc/moat/transport\n  relayhost: "[smarthost.example]:587"\n',
    );
    expect(r.resolve('known@relay.example')).toMatchObject({ ok: true, recipients: [{ nextHop: { transport: 'smtp', host: 'primary.relay.example', port: 2525, mx: false } }] });
    expect(r.resolve('other@relay.example')).toMatchObject({ ok: false, text: 'User unknown in relay recipient table' });
    expect(r.resolve('x@a.sub.example')).toMatchObject({ ok: true, recipients: [{ nextHop: { transport: 'lmtp', socket: { path: '/run/lmtp' } } }] });
    // dest: the relayhost as written, Postfix's TLS policy key
    expect(r.resolve('x@remote.example')).toMatchObject({ ok: true, recipients: [{ nextHop: { transport: 'smtp', host: 'smarthost.example', port: 587, mx: false, dest: '[smarthost.example]:587' } }] });
  });
  it("queue.transports are per-domain transport entries; Postfix's local/virtual transports mean moat's mailbox", () => {
    const c = compile("  local_transport: 'local:$myhostname'\n  virtual_transport: lmtp:unix:/run/dovecot/lmtp\n", 'queue:\n  transports: { backup.example: "smtp://primary.example:25" }\n');
    expect(c.spec.localTransport).toMatchObject({ transport: 'maildir' });
    expect(c.spec.virtualTransport).toMatchObject({ transport: 'lmtp', socket: { path: '/run/dovecot/lmtp' } });
    const r = createAddressResolver(c.spec);
    expect(r.resolve('x@backup.example')).toMatchObject({ ok: true, recipients: [{ nextHop: { transport: 'smtp', host: 'primary.example', port: 25, mx: false } }] });
    expect(r.resolve('x@sub.backup.example')).toMatchObject({ ok: true, recipients: [{ nextHop: { transport: 'smtp', host: undefined } }] });
  });
  it('bad tables and transports are config errors naming the setting', () => {
    const err = (routing: string) => {
      try {
        compile(routing);
      } catch (e) {
        if (e instanceof ConfigError) return formatConfigErrors(e);
        throw e;
      }
      throw new Error('expected a ConfigError');
    };
    expect(err('  virtual_alias_maps: [hash:/nope]\n')).toMatch(/routing\.virtual_alias_maps: .*hash:\/nope: no such file/);
    expect(err('  default_transport: uucp\n')).toMatch(/routing\.default_transport: .*unknown transport "uucp"/);
    expect(err('  relayhost: "[smarthost"\n')).toMatch(/routing\.relayhost: .*unclosed/);
    expect(err('  local_recipient_maps: [$nonsense]\n')).toMatch(/routing\.local_recipient_maps/);
  });
  it('proxy:unix:passwd.byname is noted and skipped (no Unix accounts)', () => {
    const c = compile('  local_recipient_maps: proxy:unix:passwd.byname $alias_maps\n  alias_maps: texthash:/etc/moat/aliases\n');
    expect(c.notes).toEqual([expect.stringContaining('proxy:unix:passwd.byname ignored')]);
    expect(c.tables.alias_maps).toEqual(['texthash:/etc/moat/aliases']);
  });
  it('Postfix list text: commas and spaces, inline:{...} kept whole, $mydestination in relay_domains', () => {
    expect(splitPostfixList('hash:/a, inline:{ a=b, c=d }  texthash:/b')).toEqual(['hash:/a', 'inline:{ a=b, c=d }', 'texthash:/b']);
    const c = compile('  mydestination: $myhostname, localhost\n  relay_domains: $mydestination\n');
    expect(c.spec.relayDomains).toEqual(['mx.example.org', 'localhost']);
  });
  it('$myhostname naming a recipients: domain gives way to recipients: (a note, not an error)', () => {
    const config = parseConfig('policy:\n  hostname: example.org\nrecipients:\n  domains: [example.org]\n  users: [alice@example.org]\n', { file: 'moat.yaml', env: {} });
    const c = compileRouting(config, { openTable, recipients: compileConfig(config, { openTable }).recipientOptions });
    expect(c.spec.mydestination).toEqual(['localhost.org', 'localhost']);
    expect(c.notes).toEqual(['routing.mydestination: example.org left out: recipients: hosts it']);
    expect(createAddressResolver(c.spec).resolve('alice@example.org')).toMatchObject({ ok: true, class: 'virtual-mailbox' });
  });
  it('a domain in two classes is a config error', () => {
    const bad = (routing: string, rest = '') => () => parseConfig(`${BASE}${rest}routing:\n${routing}`, { file: 'moat.yaml', env: {} });
    expect(bad('  relay_domains: [example.org]\n')).toThrow(/example\.org is in recipients\.domains .* routing\.relay_domains/);
    expect(bad('  mydestination: [example.org]\n')).toThrow(/routing\.mydestination/);
    expect(bad('  recipient_delimiter: "-"\n')).not.toThrow();
    expect(bad('  recipient_delimiter: "-"\n', 'queue: {}\n')).not.toThrow();
    const both = () => parseConfig(`${BASE}  recipient_delimiter: "="\nrouting:\n  recipient_delimiter: "-"\n`, { file: 'moat.yaml', env: {} });
    expect(both).toThrow(/routing\.recipient_delimiter "-" disagrees/);
  });
});

describe('parity with createStaticRecipients (recipients: through the resolver)', () => {
  const opts = {
    domains: ['Example.org', 'example.net.'],
    relayDomains: ['backup.example'],
    users: ['Alice@example.org', 'b.c@example.org', 'b@example.org'],
    catchAll: ['example.net', 'catch.example'],
    recipientDelimiter: '+-',
  };
  const config = parseConfig(
    `policy:\n  hostname: mx.moat.test\nrecipients:\n  domains: [example.org]\n  recipient_delimiter: "+-"\nrouting:\n  mydestination: []\n`,
    { file: 'moat.yaml', env: {} },
  );
  const port = recipientPortFromResolver(createAddressResolver(compileRouting(config, { openTable, recipients: opts }).spec));
  const stat = createStaticRecipients(opts);

  it("today's recipients.test.ts cases answer the same", () => {
    const cases = [
      'alice@example.org',
      'ALICE@EXAMPLE.ORG.',
      'alice+tag@example.org',
      'alice-tag+x@example.org',
      'b.c+x@example.org',
      '+alice@example.org',
      'mallory@example.org',
      'anyone@example.net',
      'anyone@backup.example',
      'alice@remote.example',
      'alice@sub.example.org',
      'x@sub.backup.example',
      '"a@b"@example.org',
    ];
    for (const a of cases) expect(port.classifySync(a), a).toBe(stat.classifySync(a));
  });
  it('property: the same class for generated addresses (with a domain)', () => {
    const part = fc.constantFrom('alice', 'ALICE', 'b', 'b+x', 'b-x', 'alice+', '+alice', 'bob', 'a.b', '"a@b"', 'b.c', 'B.C+tag-x');
    const dom = fc.constantFrom('example.org', 'EXAMPLE.ORG.', 'example.net', 'backup.example', 'catch.example', 'remote.example', 'example.org..', 'sub.example.org');
    fc.assert(
      fc.property(part, dom, (l, d) => {
        const a = `${l}@${d}`;
        expect(port.classifySync(a), a).toBe(stat.classifySync(a));
      }),
      { numRuns: 500 },
    );
  });
  it('deliberate difference: a needlessly quoted local part is the same user (Postfix unquotes it)', () => {
    expect(stat.classifySync('"alice"@example.org')).toBe('unknown-user');
    expect(port.classifySync('"alice"@example.org')).toBe('local');
  });
});

describe('lintRouting', () => {
  it("says what Postfix's helpful warnings say, and the backup-MX advice", () => {
    const c = parseConfig(`${BASE}routing:\n  mydestination: [$myhostname, both.example]\n  virtual_alias_domains: [both.example]\n  relay_domains: [relay.example]\n`, { file: 'moat.yaml', env: {} });
    expect(lintRouting(c.routing, c.recipients, c.policy.hostname).map((w) => w.message)).toEqual([
      'do not list domain both.example in BOTH mydestination and virtual_alias_domains (Postfix: the result is implementation defined)',
      'relay domains without relay_recipient_maps: every user is accepted and unknown ones bounce later (backscatter)',
    ]);
  });
});
