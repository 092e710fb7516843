import type { LookupTable } from '@moat/maps';
import { describe, expect, it } from 'vitest';
import { parseNextHop } from './next-hop.ts';
import { createAddressResolver } from './resolver.ts';
import { brokenTable, memoryTable, patternTable, testSpec } from './test-tables.ts';
import type { Resolution, ResolverSpec } from './types.ts';

const maildir = parseNextHop('maildir:/var/mail/moat');
const spec = (over: Partial<ResolverSpec> = {}): ResolverSpec => testSpec({ mydestination: ['mx.example.org', 'localhost'], ...over });

const ok = (r: Resolution) => {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.status} ${r.text}\n${r.trace.join('\n')}`);
  return r;
};
const addrs = (r: Resolution) => ok(r).recipients.map((x) => x.address);

describe('address classes', () => {
  const r = createAddressResolver(
    spec({
      virtualAliasDomains: ['alias.example'],
      virtualAliasMaps: [memoryTable({ 'info@alias.example': 'alice@hosted.example' })],
      virtualMailboxDomains: ['hosted.example'],
      virtualMailboxMaps: [memoryTable({ 'alice@hosted.example': 'alice/' })],
      relayDomains: ['backup.example'],
    }),
  );
  it('classifies by domain list, in trivial-rewrite order', () => {
    expect(r.classify('root@mx.example.org')).toBe('local');
    expect(r.classify('root@LOCALHOST.')).toBe('local');
    expect(r.classify('x@alias.example')).toBe('virtual-alias');
    expect(r.classify('x@Hosted.Example')).toBe('virtual-mailbox');
    expect(r.classify('x@backup.example')).toBe('relay');
    expect(r.classify('x@elsewhere.example')).toBe('remote');
    // relay_domains is in parent_domain_matches_subdomains by default: subdomains are relay too.
    expect(r.classify('x@sub.backup.example')).toBe('relay');
    // mydestination and the virtual lists are exact (string lists).
    expect(r.classify('x@sub.hosted.example')).toBe('remote');
    // No domain: @myorigin (= myhostname); an empty domain too (trivial-rewrite strips the @).
    expect(r.classify('root')).toBe('local');
    expect(r.classify('root@')).toBe('local');
    expect(ok(r.resolve('root@')).recipients[0]?.address).toBe('root@mx.example.org');
  });
  it('resolves each class to its default next hop', () => {
    expect(ok(r.resolve('alice@hosted.example')).recipients).toEqual([{ address: 'alice@hosted.example', extension: undefined, class: 'virtual-mailbox', nextHop: maildir }]);
    expect(ok(r.resolve('x@backup.example')).recipients[0]?.nextHop).toMatchObject({ transport: 'smtp', host: undefined, mx: true });
    expect(ok(r.resolve('x@elsewhere.example')).recipients[0]).toMatchObject({ class: 'remote', nextHop: { transport: 'smtp', mx: true } });
    expect(ok(r.resolve('info@alias.example')).recipients).toMatchObject([{ address: 'alice@hosted.example', class: 'virtual-mailbox' }]);
  });
  it('refuses unknown users with Postfix reply texts', () => {
    expect(r.resolve('bob@hosted.example')).toMatchObject({ ok: false, reason: 'unknown-user', status: '5.1.1', text: 'User unknown in virtual mailbox table', class: 'virtual-mailbox' });
    expect(r.resolve('bob@alias.example')).toMatchObject({ ok: false, reason: 'unknown-user', status: '5.1.1', text: 'User unknown in virtual alias table' });
    const strict = createAddressResolver(spec({ localRecipientMaps: [memoryTable({ root: 'x' })], relayDomains: ['backup.example'], relayRecipientMaps: [memoryTable({ 'a@backup.example': 'OK' })] }));
    expect(strict.resolve('nobody@mx.example.org')).toMatchObject({ ok: false, text: 'User unknown in local recipient table' });
    expect(strict.resolve('b@backup.example')).toMatchObject({ ok: false, text: 'User unknown in relay recipient table', class: 'relay' });
    expect(ok(strict.resolve('a@backup.example')).class).toBe('relay');
    // local_recipient_maps is asked the local part for a local domain (aliases(5)-style keys).
    expect(ok(strict.resolve('ROOT@localhost')).recipients[0]?.address).toBe('ROOT@localhost');
    // smtpd never refuses postmaster, MAILER-DAEMON, double-bounce in local domains.
    for (const u of ['postmaster', 'MAILER-DAEMON', 'double-bounce']) expect(strict.resolve(`${u}@mx.example.org`).ok).toBe(true);
  });
  it('verify as a sender: smtpd_reject_unlisted_sender statuses', () => {
    const strict = createAddressResolver(spec({ localRecipientMaps: [memoryTable({ root: 'x' })], transportMaps: [memoryTable({ 'gone.example': 'error:5.1.1 gone' })] }));
    expect(strict.verify('nobody@localhost', 'sender')).toEqual({ accepted: false, class: 'local', status: '5.1.0', text: 'User unknown in local recipient table', by: 'table' });
    expect(strict.verify('x@gone.example', 'sender')).toMatchObject({ accepted: false, status: '5.1.7', text: 'gone', by: 'error' });
    expect(strict.verify('x@gone.example')).toMatchObject({ accepted: false, status: '5.1.1' });
    expect(strict.verify('root@localhost', 'sender')).toEqual({ accepted: true, class: 'local' });
  });
  it('with no recipient table, every user exists (Postfix with the map empty)', () => {
    const open = createAddressResolver(spec({ virtualMailboxDomains: ['open.example'], relayDomains: ['relay.example'], localRecipientMaps: [] }));
    expect(open.resolve('anyone@open.example').ok).toBe(true);
    expect(open.resolve('anyone@relay.example').ok).toBe(true);
    expect(open.resolve('anyone@localhost').ok).toBe(true);
  });
  it('domain lists may name tables (virtual_alias_domains = $virtual_alias_maps)', () => {
    const va = memoryTable({ 'alias.example': 'anything', 'x@alias.example': 'root@localhost' });
    const t = createAddressResolver(spec({ virtualAliasMaps: [va], virtualAliasDomainMaps: [va] }));
    expect(t.classify('x@alias.example')).toBe('virtual-alias');
    expect(addrs(t.resolve('x@alias.example'))).toEqual(['root@localhost']);
    expect(t.resolve('y@alias.example')).toMatchObject({ ok: false, text: 'User unknown in virtual alias table' });
  });
  it('an address literal of ours is local', () => {
    const t = createAddressResolver(spec({ localAddresses: ['192.0.2.1', '2001:db8::1'] }));
    expect(t.classify('root@[192.0.2.1]')).toBe('local');
    expect(t.classify('root@[IPv6:2001:db8::1]')).toBe('local');
    expect(t.classify('root@[192.0.2.2]')).toBe('remote');
  });
});

describe('recipient_delimiter', () => {
  const vmbox = memoryTable({ 'alice@hosted.example': 'x', 'owner-list@hosted.example': 'x', 'b.c@hosted.example': 'x' });
  const base = { virtualMailboxDomains: ['hosted.example'], virtualMailboxMaps: [vmbox] };
  it('looks up the full address, then without the extension, and keeps the extension', () => {
    const r = createAddressResolver(spec(base));
    expect(ok(r.resolve('alice+tag@hosted.example')).recipients[0]).toMatchObject({ address: 'alice+tag@hosted.example', extension: 'tag' });
    expect(ok(r.resolve('b.c+x@hosted.example')).recipients[0]?.extension).toBe('x');
    // The user part cannot be empty: +alice is a user named "+alice".
    expect(r.resolve('+alice@hosted.example').ok).toBe(false);
    // An empty extension still splits.
    expect(ok(r.resolve('alice+@hosted.example')).recipients[0]?.extension).toBe('');
  });
  it('each character is a delimiter; the first one present splits (Postfix 2.11+)', () => {
    const r = createAddressResolver(spec({ ...base, recipientDelimiter: '+-' }));
    expect(ok(r.resolve('alice-tag+x@hosted.example')).recipients[0]?.extension).toBe('tag+x');
    expect(ok(r.resolve('alice+tag-x@hosted.example')).recipients[0]?.extension).toBe('tag-x');
    // owner-* and *-request are not split when '-' is a delimiter (owner_request_special).
    expect(ok(r.resolve('owner-list@hosted.example')).recipients[0]?.extension).toBeUndefined();
    expect(r.resolve('owner-bob@hosted.example').ok).toBe(false);
  });
  it('no delimiter: +tag is part of the name', () => {
    const r = createAddressResolver(spec({ ...base, recipientDelimiter: '' }));
    expect(r.resolve('alice+tag@hosted.example').ok).toBe(false);
  });
  it('the full address wins over the stripped one', () => {
    const va = memoryTable({ 'alice+lists@alias.example': 'lists@hosted.example', 'alice@alias.example': 'alice@hosted.example', 'lists@hosted.example': 'lists@hosted.example' });
    const r = createAddressResolver(spec({ ...base, virtualAliasDomains: ['alias.example'], virtualAliasMaps: [va] }));
    expect(addrs(r.resolve('alice+lists@alias.example'))).toEqual(['lists@hosted.example']);
    expect(addrs(r.resolve('alice+other@alias.example'))).toEqual(['alice+other@hosted.example']);
  });
});

describe('virtual_alias_maps (cleanup)', () => {
  const mk = (entries: Record<string, string>, over: Partial<ResolverSpec> = {}) =>
    createAddressResolver(spec({ virtualAliasDomains: ['alias.example', 'old.example'], virtualAliasMaps: [memoryTable(entries)], ...over }));

  it('rewrites every recipient, recursively, and fans out', () => {
    const r = mk({ 'team@alias.example': 'a@remote.example, b@alias.example  c@remote.example', 'b@alias.example': 'd@remote.example' });
    expect(addrs(r.resolve('team@alias.example'))).toEqual(['a@remote.example', 'd@remote.example', 'c@remote.example']);
    // Applies to any class, remote included (cleanup rewrites every recipient).
    const r2 = mk({ 'x@remote.example': 'root@localhost' });
    expect(ok(r2.resolve('x@remote.example'))).toMatchObject({ class: 'remote', recipients: [{ address: 'root@localhost', class: 'local' }] });
  });
  it('propagates the unmatched extension to each result', () => {
    const r = mk({ 'team@alias.example': 'a@remote.example, b@remote.example' });
    expect(addrs(r.resolve('team+x@alias.example'))).toEqual(['a+x@remote.example', 'b+x@remote.example']);
    // A delimiter in the target stays; the extension goes in before the @.
    const r2 = mk({ 'bob@alias.example': 'bob+inbox@remote.example' });
    expect(addrs(r2.resolve('bob+tag@alias.example'))).toEqual(['bob+inbox+tag@remote.example']);
    expect(addrs(r2.resolve('bob@alias.example'))).toEqual(['bob+inbox@remote.example']);
  });
  it('asks user@domain, then user only for local domains, then @domain', () => {
    // a table that cannot list its keys: every key is asked (one that can is asked only what may match, below)
    const { keys: _listed, ...t } = memoryTable({ root: 'admin@remote.example', '@alias.example': 'catch@remote.example' });
    const r = createAddressResolver(spec({ virtualAliasDomains: ['alias.example'], virtualAliasMaps: [t] }));
    expect(addrs(r.resolve('root@mx.example.org'))).toEqual(['admin@remote.example']);
    expect(addrs(r.resolve('root@alias.example'))).toEqual(['catch@remote.example']);
    t.asked.length = 0;
    r.resolve('root+x@alias.example');
    // @alias.example was asked (and answered) above: the resolver keeps a domain's answer until the table changes
    expect(t.asked.slice(0, 2)).toEqual(['root+x@alias.example', 'root@alias.example']);
    expect(t.asked).not.toContain('@alias.example');
    t.asked.length = 0;
    createAddressResolver(spec({ virtualAliasDomains: ['alias.example'], virtualAliasMaps: [t] })).resolve('root+x@alias.example');
    expect(t.asked.slice(0, 3)).toEqual(['root+x@alias.example', 'root@alias.example', '@alias.example']);
    t.asked.length = 0;
    r.resolve('root+x@localhost');
    expect(t.asked.slice(0, 4)).toEqual(['root+x@localhost', 'root@localhost', 'root+x', 'root']);
  });
  it('a table that lists its keys is not asked per-address keys for a domain none of them names', () => {
    const t = memoryTable({ 'info@alias.example': 'alice@remote.example', '@catch.example': 'c@remote.example', root: 'admin@remote.example' });
    const r = createAddressResolver(spec({ virtualAliasDomains: ['alias.example', 'catch.example'], virtualAliasMaps: [t] }));
    expect(addrs(r.resolve('info+x@alias.example'))).toEqual(['alice+x@remote.example']);
    t.asked.length = 0;
    expect(addrs(r.resolve('x+y@catch.example'))).toEqual(['c@remote.example']);
    // remote.example's @domain answer was kept from the first expansion
    expect(t.asked).toEqual(['@catch.example']);
    t.asked.length = 0;
    // a local domain: bare user keys may match
    expect(addrs(r.resolve('root@localhost'))).toEqual(['admin@remote.example']);
    expect(t.asked).toEqual(['root@localhost', 'root']);
  });
  it('a reloaded table (its generation changes) is asked again: the per-domain answers are dropped', () => {
    const entries = new Map<string, string>([['@alias.example', 'old@remote.example']]);
    const t: LookupTable & { generation: number; keys(): Iterable<string> } = {
      spec: 'texthash:/test/v',
      type: 'texthash',
      pattern: false,
      generation: 0,
      lookup: (k) => entries.get(k.toLowerCase()),
      keys: () => entries.keys(),
    };
    const domains: LookupTable & { generation: number } = { spec: 'texthash:/test/d', type: 'texthash', pattern: false, generation: 0, lookup: (k) => (k === 'new.example' && domains.generation > 0 ? 'x' : undefined) };
    const r = createAddressResolver(spec({ virtualAliasDomains: ['alias.example'], virtualAliasDomainMaps: [domains], virtualAliasMaps: [t] }));
    expect(addrs(r.resolve('a@alias.example'))).toEqual(['old@remote.example']);
    expect(r.classify('a@new.example')).toBe('remote');
    entries.set('@alias.example', 'new@remote.example');
    entries.set('b@alias.example', 'bee@remote.example');
    t.generation++;
    expect(addrs(r.resolve('a@alias.example'))).toEqual(['new@remote.example']);
    // the key shapes are read again too: alias.example now has a per-address key
    expect(addrs(r.resolve('b@alias.example'))).toEqual(['bee@remote.example']);
    domains.generation++;
    expect(r.classify('a@new.example')).toBe('virtual-alias');
  });
  it('catch-all: the @domain result does not carry the extension (no unmatched extension for @domain)', () => {
    const r = mk({ '@alias.example': 'catch@remote.example' });
    expect(addrs(r.resolve('anyone+tag@alias.example'))).toEqual(['catch@remote.example']);
  });
  it('rewrites a domain to another (@old @new), keeping the user and extension', () => {
    const r = mk({ '@old.example': '@new.example' });
    expect(addrs(r.resolve('Bob+tag@old.example'))).toEqual(['Bob+tag@new.example']);
    const r2 = mk({ 'bob@old.example': '@new.example' });
    expect(addrs(r2.resolve('bob+tag@old.example'))).toEqual(['bob+tag@new.example']);
  });
  it('regexp tables see the full address only', () => {
    const p = patternTable([[/^(.*)@alias\.example$/i, '$1@remote.example']]);
    const r = createAddressResolver(spec({ virtualAliasDomains: ['alias.example'], virtualAliasMaps: [p] }));
    expect(addrs(r.resolve('x+y@alias.example'))).toEqual(['x+y@remote.example']);
    expect(p.asked).toEqual(['x+y@alias.example', 'x+y@remote.example']);
  });
  it('keeps an address that lists itself (self-reference), expanding the rest', () => {
    const r = mk({ 'a@alias.example': 'a@alias.example, b@remote.example', 'b@remote.example': 'a@alias.example' });
    const res = ok(r.resolve('a@alias.example'));
    // b@remote.example expands back to a, which is kept once (duplicates filtered).
    expect(res.recipients.map((x) => x.address)).toEqual(['a@alias.example']);
    // a stays a (it is in a virtual alias domain, so it bounces as unknown there, as in Postfix).
    expect(res.recipients[0]?.nextHop).toMatchObject({ transport: 'error', status: '5.1.1' });
    const r2 = mk({ 'a@alias.example': 'A@alias.example, c@remote.example' });
    expect(addrs(r2.resolve('a@alias.example'))).toEqual(['A@alias.example', 'c@remote.example']);
  });
  it('an alias loop hits virtual_alias_recursion_limit: 5.4.6', () => {
    const r = mk({ 'a@alias.example': 'b@alias.example', 'b@alias.example': 'a@alias.example' });
    expect(r.resolve('a@alias.example')).toMatchObject({ ok: false, reason: 'loop', status: '5.4.6' });
    const r2 = mk({ 'a@alias.example': 'b@alias.example', 'b@alias.example': 'c@remote.example' }, { virtualAliasRecursionLimit: 1 });
    expect(r2.resolve('a@alias.example')).toMatchObject({ ok: false, reason: 'loop' });
    // As cleanup_map1n: the limit is checked before each lookup, so two rewrites need a limit of 3.
    const r3 = mk({ 'a@alias.example': 'b@alias.example', 'b@alias.example': 'c@remote.example' }, { virtualAliasRecursionLimit: 2 });
    expect(r3.resolve('a@alias.example')).toMatchObject({ ok: false, reason: 'loop' });
    const r4 = mk({ 'a@alias.example': 'b@alias.example', 'b@alias.example': 'c@remote.example' }, { virtualAliasRecursionLimit: 3 });
    expect(addrs(r4.resolve('a@alias.example'))).toEqual(['c@remote.example']);
  });
  it('an expansion over virtual_alias_expansion_limit: 5.4.6', () => {
    const many = Array.from({ length: 5 }, (_, i) => `u${i}@remote.example`).join(', ');
    expect(mk({ 'l@alias.example': many }, { virtualAliasExpansionLimit: 4 }).resolve('l@alias.example')).toMatchObject({ ok: false, reason: 'too-many', status: '5.4.6' });
    expect(addrs(mk({ 'l@alias.example': many }, { virtualAliasExpansionLimit: 5 }).resolve('l@alias.example'))).toHaveLength(5);
  });
  it('an expansion to nothing is empty-expansion', () => {
    const r = mk({ 'x@alias.example': ' , ' });
    expect(r.resolve('x@alias.example')).toMatchObject({ ok: false, reason: 'empty-expansion' });
  });
  it('de-duplicates final recipients (cleanup duplicate filter)', () => {
    const r = mk({ 'l@alias.example': 'a@remote.example, A@remote.example, b@alias.example', 'b@alias.example': 'a@remote.example' });
    expect(addrs(r.resolve('l@alias.example'))).toEqual(['a@remote.example']);
  });
  it('a result without a domain gets @myorigin', () => {
    const r = mk({ 'x@alias.example': 'root' }, { myorigin: 'localhost' });
    expect(ok(r.resolve('x@alias.example')).recipients).toMatchObject([{ address: 'root@localhost', class: 'local' }]);
  });
  it('quoted local parts: asked in external (quoted) form first, then internal', () => {
    const t = memoryTable({ '"john doe"@alias.example': 'jd@remote.example', 'a.b@alias.example': 'ab@remote.example' });
    const r = createAddressResolver(spec({ virtualAliasDomains: ['alias.example'], virtualAliasMaps: [t] }));
    expect(addrs(r.resolve('"john doe"@alias.example'))).toEqual(['jd@remote.example']);
    expect(addrs(r.resolve('"a.b"@alias.example'))).toEqual(['ab@remote.example']);
    const t2 = memoryTable({ 'john doe@alias.example': 'jd2@remote.example' });
    expect(addrs(createAddressResolver(spec({ virtualAliasDomains: ['alias.example'], virtualAliasMaps: [t2] })).resolve('"john doe"@alias.example'))).toEqual(['jd2@remote.example']);
    expect(ok(r.resolve('"odd person"@remote.example')).recipients[0]?.address).toBe('"odd person"@remote.example');
  });
  it('uppercase: keys fold, the local part keeps its case, the domain is lower-cased', () => {
    const r = mk({ 'info@alias.example': 'Alice@Remote.Example' });
    expect(addrs(r.resolve('INFO@ALIAS.EXAMPLE.'))).toEqual(['Alice@remote.example']);
  });
});

describe('alias_maps (local(8))', () => {
  const mk = (aliases: Record<string, string>, over: Partial<ResolverSpec> = {}) => {
    const t = memoryTable(aliases);
    return createAddressResolver(spec({ aliasMaps: [t], localRecipientMaps: [t], ...over }));
  };
  it('expands local parts of local domains, recursively', () => {
    const r = mk({ postmaster: 'root', root: 'admin@remote.example, ops', ops: 'ops' });
    expect(ok(r.resolve('postmaster@mx.example.org')).recipients).toMatchObject([
      { address: 'admin@remote.example', class: 'remote' },
      { address: 'ops@mx.example.org', class: 'local', nextHop: { transport: 'maildir' } },
    ]);
  });
  it('tries user+ext, then user; the extension is not propagated (propagate_unmatched_extensions default)', () => {
    const r = mk({ root: 'admin@remote.example', 'root+x': 'x@remote.example' });
    expect(addrs(r.resolve('root+x@localhost'))).toEqual(['x@remote.example']);
    expect(addrs(r.resolve('root+y@localhost'))).toEqual(['admin@remote.example']);
  });
  it('a local alias loop: 5.4.6 alias database loop', () => {
    const r = mk({ a: 'b', b: 'a' });
    expect(r.resolve('a@localhost')).toMatchObject({ ok: false, reason: 'loop', status: '5.4.6' });
  });
  it('refuses |command, /file and :include: (moat has no local(8))', () => {
    const r = mk({ prog: '"|/usr/bin/prog", admin@remote.example', inc: ':include:/etc/list' });
    const res = ok(r.resolve('prog@localhost'));
    expect(res.recipients[0]?.nextHop).toMatchObject({ transport: 'error', status: '5.3.5' });
    expect(res.recipients[1]?.address).toBe('admin@remote.example');
  });
  it('alias results re-enter virtual_alias_maps when they leave the local domains', () => {
    const r = mk({ root: 'team@alias.example' }, { virtualAliasDomains: ['alias.example'], virtualAliasMaps: [memoryTable({ 'team@alias.example': 'z@remote.example' })] });
    expect(addrs(r.resolve('root@localhost'))).toEqual(['z@remote.example']);
  });
  it('an alias result naming an unknown local user bounces at delivery (accepted at RCPT as Postfix does)', () => {
    const r = mk({ info: 'nobody' });
    expect(ok(r.resolve('info@localhost')).recipients[0]?.nextHop).toMatchObject({ transport: 'error', status: '5.1.1' });
  });
});

describe('transport_maps', () => {
  const mk = (entries: Record<string, string>, over: Partial<ResolverSpec> = {}) =>
    createAddressResolver(spec({ transportMaps: [memoryTable(entries)], relayDomains: ['backup.example'], ...over }));
  it('asks the full address, user@domain, the domain, then .parents, then *', () => {
    const t = memoryTable({});
    const r = createAddressResolver(spec({ transportMaps: [t] }));
    r.resolve('u+x@a.b.example');
    expect(t.asked).toEqual(['u+x@a.b.example', 'u@a.b.example', 'a.b.example', '.b.example', '.example', '*']);
  });
  it('with transport_maps in parent_domain_matches_subdomains, parents without the dot', () => {
    const t = memoryTable({ 'b.example': 'smtp:[10.0.0.1]' });
    const r = createAddressResolver(spec({ transportMaps: [t], parentDomainMatchesSubdomains: ['transport_maps'] }));
    expect(ok(r.resolve('u@a.b.example')).recipients[0]?.nextHop).toMatchObject({ transport: 'smtp', host: '10.0.0.1', mx: false });
    expect(t.asked).toEqual(['u@a.b.example', 'a.b.example', 'b.example']);
  });
  it('route(): the class and next hop alone, with the key that chose it', () => {
    const r = mk({ 'backup.example': 'local:', '*': 'smtp:[smarthost]' });
    expect(r.route('x@backup.example')).toMatchObject({ class: 'relay', nextHop: { transport: 'maildir' }, via: 'backup.example' });
    expect(r.route('x@other.example')).toMatchObject({ class: 'remote', nextHop: { transport: 'smtp', host: 'smarthost' }, via: '*' });
    expect(mk({}).route('x@localhost')).toEqual({ class: 'local', nextHop: maildir });
  });
  it('domain matches the domain only; .domain matches subdomains', () => {
    const r = mk({ 'example.com': 'smtp:[exact.host]', '.example.com': 'smtp:[sub.host]:2525' });
    expect(ok(r.resolve('u@example.com')).recipients[0]?.nextHop).toMatchObject({ host: 'exact.host', port: 25 });
    expect(ok(r.resolve('u@a.example.com')).recipients[0]?.nextHop).toMatchObject({ host: 'sub.host', port: 2525 });
  });
  it('per address entries win, the extension-less address too', () => {
    const r = mk({ 'vip@example.com': 'lmtp:unix:/run/lmtp', 'example.com': 'smtp:[exact.host]' });
    expect(ok(r.resolve('vip+x@example.com')).recipients[0]?.nextHop).toMatchObject({ transport: 'lmtp', socket: { path: '/run/lmtp' } });
  });
  it('empty fields inherit: ":[host]" keeps the transport, "smtp:" resets the next hop to the domain', () => {
    const r = mk({ 'backup.example': ':[primary.example]:26', 'other.example': 'smtp', 'drop.example': 'discard:', 'x.example': ':' });
    expect(ok(r.resolve('u@backup.example')).recipients[0]?.nextHop).toMatchObject({ transport: 'smtp', host: 'primary.example', port: 26, mx: false, raw: ':[primary.example]:26' });
    expect(ok(r.resolve('u@other.example')).recipients[0]?.nextHop).toMatchObject({ transport: 'smtp', host: undefined, mx: true });
    expect(ok(r.resolve('u@drop.example')).recipients[0]?.nextHop).toMatchObject({ transport: 'discard' });
    expect(ok(r.resolve('u@x.example')).recipients[0]?.nextHop).toMatchObject({ transport: 'smtp', mx: true });
    const local = mk({ 'mx.example.org': ':/srv/mail' });
    expect(ok(local.resolve('root@mx.example.org')).recipients[0]?.nextHop).toMatchObject({ transport: 'maildir', path: '/srv/mail' });
  });
  it('the * wildcard catches the rest', () => {
    const r = mk({ '*': 'smtp:[smarthost]:587', 'mx.example.org': 'local:' });
    expect(ok(r.resolve('u@anywhere.example')).recipients[0]?.nextHop).toMatchObject({ host: 'smarthost', port: 587 });
    expect(ok(r.resolve('u@mx.example.org')).recipients[0]?.nextHop).toMatchObject({ transport: 'maildir' });
  });
  it('is not consulted for the virtual alias class', () => {
    const r = mk({ '*': 'smtp:[x]' }, { virtualAliasDomains: ['alias.example'] });
    expect(r.resolve('u@alias.example')).toMatchObject({ ok: false, text: 'User unknown in virtual alias table' });
  });
  it('a transport entry moat cannot use is a temporary failure, not a delivery', () => {
    const r = mk({ 'x.example': 'uucp:host' });
    expect(r.resolve('u@x.example')).toMatchObject({ ok: false, reason: 'lookup-failure', status: '4.3.0' });
  });
  it('regexp transport tables see the full address only', () => {
    const p = patternTable([[/@(.*\.)?pat\.example$/, 'smtp:[pat.host]']]);
    const r = createAddressResolver(spec({ transportMaps: [p] }));
    expect(ok(r.resolve('u+x@a.pat.example')).recipients[0]?.nextHop).toMatchObject({ host: 'pat.host' });
    expect(p.asked).toEqual(['u+x@a.pat.example']);
  });
});

describe('lookup failures', () => {
  it('a table that throws is 4.3.0 lookup-failure, never unknown', () => {
    const tables: Array<[string, Partial<ResolverSpec>]> = [
      ['valias', { virtualAliasMaps: [brokenTable()] }],
      ['vmbox', { virtualMailboxDomains: ['h.example'], virtualMailboxMaps: [brokenTable()] }],
      ['transport', { transportMaps: [brokenTable()] }],
      ['domains', { relayDomainMaps: [brokenTable()] }],
      ['aliases', { aliasMaps: [brokenTable()] }],
    ];
    for (const [name, over] of tables) {
      const addr = name === 'vmbox' ? 'u@h.example' : name === 'aliases' ? 'u@localhost' : 'u@x.example';
      expect(createAddressResolver(spec(over)).resolve(addr), name).toMatchObject({ ok: false, reason: 'lookup-failure', status: '4.3.0', text: 'Temporary lookup failure' });
    }
  });
  it('classify throws on a domain table failure', () => {
    expect(() => createAddressResolver(spec({ relayDomainMaps: [brokenTable()] })).classify('u@x.example')).toThrow(/lookup failed/);
  });
  it('a table after one that answers is not asked', () => {
    const tables: LookupTable[] = [memoryTable({ 'u@x.example': 'u@x.example' }), brokenTable()];
    expect(addrs(createAddressResolver(spec({ virtualAliasMaps: tables })).resolve('u@x.example'))).toEqual(['u@x.example']);
  });
});

describe('recipient tables after virtual alias expansion', () => {
  const r = createAddressResolver(
    spec({
      virtualAliasDomains: ['alias.example'],
      virtualAliasMaps: [memoryTable({ 'info@alias.example': 'Bob@mx.example.org, Carol@Hosted.Example, alice@hosted.example, postmaster@mx.example.org' })],
      virtualMailboxDomains: ['hosted.example'],
      virtualMailboxMaps: [memoryTable({ 'alice@hosted.example': 'alice/' })],
      localRecipientMaps: [memoryTable({ 'root@mx.example.org': 'x' })],
    }),
  );
  it('an unlisted local or virtual-mailbox target gets the error hop with local(8)/virtual(8) wording', () => {
    const hops = Object.fromEntries(ok(r.resolve('info@alias.example')).recipients.map((x) => [x.address.toLowerCase(), x.nextHop]));
    expect(hops['bob@mx.example.org']).toMatchObject({ transport: 'error', status: '5.1.1', text: 'unknown user: "bob"' });
    expect(hops['carol@hosted.example']).toMatchObject({ transport: 'error', status: '5.1.1', text: 'unknown user: "carol@hosted.example"' });
    expect(hops['alice@hosted.example']?.transport).not.toBe('error');
    // local_recipient_maps does not apply to postmaster
    expect(hops['postmaster@mx.example.org']?.transport).not.toBe('error');
  });
});
