// Delivery by next hop against real loopback daemons: smtp:[host]:port (Postfix's smtp-sink), smtp by MX
// lookup (a test resolver), lmtp over a unix socket and TCP (smtp-server in LMTP mode), maildir, error:,
// discard:; DSNs to a local sender resolved and delivered locally; a maildir never takes a remote domain.
import { createAddressResolver, createMemoryTable, fakeAddressResolver } from '@moat/address';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistry, type Registry } from '@moat/observe';
import { startSmtpSink, type SmtpSink, tmpDir } from '@moat/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  DKIM_META_KEY,
  DKIM_SIGN,
  closeCachedSessions,
  createRouter,
  decodeQueueFile,
  type DeliveryRunner,
  type EnqueueInput,
  type MxResolver,
  maildirTransport,
  nextHopOf,
  openQueue,
  type Queue,
  queueRecipients,
  type RouterOptions,
  startDelivery,
} from '../src/index.ts';
import { memoryLogger, message, type Sink, startSink } from './helpers.ts';

let dir: { path: string; remove(): Promise<void> };
let registry: Registry;
let sinks: Sink[];
let runners: DeliveryRunner[];
let postfixSinks: SmtpSink[];

beforeEach(async () => {
  dir = await tmpDir('routing');
  registry = createRegistry();
  sinks = [];
  runners = [];
  postfixSinks = [];
});

afterEach(async () => {
  for (const r of runners) await r.stop();
  closeCachedSessions();
  for (const s of sinks) await s.close();
  for (const s of postfixSinks) await s.stop();
  await dir.remove();
});

/** An MX resolver for tests: every domain's MX is 127.0.0.1 (the port comes from mxPort); counts its questions. */
function loopbackMx(): MxResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async resolveMx(domain) {
      asked.push(domain);
      return [{ exchange: `mx.${domain}`, priority: 10 }];
    },
    async resolveAddresses() {
      return ['127.0.0.1'];
    },
  };
}

/** A resolver that must not be asked (explicit next hops never look up MX records). */
const noMx: MxResolver = {
  async resolveMx(domain) {
    throw new Error(`unexpected MX lookup for ${domain}`);
  },
  async resolveAddresses(host) {
    throw new Error(`unexpected address lookup for ${host}`);
  },
};

async function setup(router: Partial<RouterOptions> = {}, extra: Partial<Parameters<typeof startDelivery>[0]> = {}) {
  const mem = memoryLogger();
  const queue = await openQueue({ dir: join(dir.path, 'spool'), logger: mem.logger, registry });
  // v1 mail (no next hop) would land here; every test below checks nothing did
  const legacy = maildirTransport({ root: join(dir.path, 'legacy'), hostname: 'mx.test' });
  const runner = await startDelivery({
    queue,
    transports: { local: legacy },
    router: createRouter({ heloName: 'mx.test', resolver: noMx, isLocal: (d) => d === 'example.org', recipientDelimiter: '+', ...router }),
    registry,
    hostname: 'mx.test',
    scanIntervalMs: 50,
    backoff: { first: 3_600_000 },
    delayWarningAfter: 0,
    ...extra,
  });
  runners.push(runner);
  return { queue, runner, lines: mem.lines };
}

async function send(queue: Queue, runner: DeliveryRunner, input: Partial<EnqueueInput> & Pick<EnqueueInput, 'recipients'>): Promise<string> {
  const { id } = await queue.enqueue({ sender: 'alice@sender.test', message: message('routing', 'hello'), ...input });
  await runner.idle();
  return id;
}

async function box(root: string, ...path: string[]): Promise<string[]> {
  const d = join(root, ...path);
  try {
    return Promise.all((await readdir(d)).sort().map(async (n) => (await readFile(join(d, n))).toString('utf8')));
  } catch {
    return [];
  }
}

const counter = async (name: string, labels: Record<string, string>): Promise<number> => {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v ? Number(v.value) : 0;
};

it('smtp:[127.0.0.1]:port goes to that host without an MX lookup (Postfix smtp-sink)', async () => {
  const pf = await startSmtpSink();
  postfixSinks.push(pf);
  const { queue, runner } = await setup();
  const id = await send(queue, runner, { recipients: ['bob@elsewhere.test'], nextHop: nextHopOf(`smtp:[127.0.0.1]:${pf.port}`), recipientInfo: new Map([['bob@elsewhere.test', { class: 'remote' }]]) });
  const got = await pf.messages();
  expect(got).toHaveLength(1);
  expect(got[0]).toContain('Subject: routing');
  expect(await queue.names('deferred')).toEqual([]);
  expect(id).toBeTruthy();
  expect(await box(join(dir.path, 'legacy'), 'elsewhere.test', 'bob', 'new')).toEqual([]);
});

it('smtp:host and smtp: look up MX records through the configured resolver', async () => {
  const s = await startSink();
  sinks.push(s);
  const mx = loopbackMx();
  const { queue, runner } = await setup({ resolver: mx, mxPort: s.port });
  // smtp: = the recipient's own domain; smtp:relay.test = that domain's MX for every recipient
  await send(queue, runner, { recipients: ['carol@remote.test'], nextHop: nextHopOf('smtp:') });
  await send(queue, runner, { recipients: ['dave@other.test'], nextHop: nextHopOf('smtp:relay.test') });
  expect(mx.asked.sort()).toEqual(['relay.test', 'remote.test']);
  expect(s.messages.map((m) => m.recipients)).toEqual([['carol@remote.test'], ['dave@other.test']]);
});

it('lmtp over a unix socket and over TCP', async () => {
  const path = join(dir.path, 'lmtp.sock');
  const unix = await startSink({ lmtp: true, path });
  const tcp = await startSink({ lmtp: true, onData: (r) => (r.startsWith('full@') ? { code: 452, message: '4.2.2 Mailbox full' } : null) });
  sinks.push(unix, tcp);
  const { queue, runner } = await setup();
  await send(queue, runner, { recipients: ['u1@example.org', 'u2+box@example.org'], nextHop: nextHopOf(`lmtp:unix:${path}`) });
  await send(queue, runner, { recipients: ['t1@example.org', 'full@example.org'], nextHop: nextHopOf(`lmtp:inet:127.0.0.1:${tcp.port}`) });
  expect(unix.messages).toHaveLength(1);
  // LMTP gets the address with its extension (the mailbox server files it)
  expect(unix.messages[0]!.recipients).toEqual(['u1@example.org', 'u2+box@example.org']);
  expect(tcp.messages.map((m) => m.recipients)).toEqual([['t1@example.org']]);
  const [deferred] = (await queue.list()).filter((e) => e.state === 'deferred');
  expect(deferred?.recipients?.find((r) => r.address === 'full@example.org')?.lastError).toMatch(/^452 /);
});

it('maildir:/path delivers with Delivered-To; user+tag goes to the .tag folder when it exists, else the inbox', async () => {
  const root = join(dir.path, 'mail');
  await mkdir(join(root, 'example.org', 'bob', '.lists', 'new'), { recursive: true });
  await mkdir(join(root, 'example.org', 'bob', '.lists', 'cur'), { recursive: true });
  await mkdir(join(root, 'example.org', 'bob', '.lists', 'tmp'), { recursive: true });
  const { queue, runner } = await setup();
  const hop = nextHopOf(`maildir:${root}`);
  await send(queue, runner, {
    recipients: ['bob+lists@example.org', 'bob+nofolder@example.org', 'bob+../x@example.org'],
    nextHop: hop,
    recipientInfo: new Map([
      ['bob+lists@example.org', { extension: 'lists' }],
      ['bob+nofolder@example.org', { extension: 'nofolder' }],
      ['bob+../x@example.org', { extension: '../x' }],
    ]),
  });
  // v1-style recipient (no split given): the maildir's own recipient_delimiter finds the user
  await send(queue, runner, { recipients: ['bob+Lists@example.org'], nextHop: hop });
  const folder = await box(root, 'example.org', 'bob', '.lists', 'new');
  const inbox = await box(root, 'example.org', 'bob', 'new');
  expect(folder).toHaveLength(2);
  expect(folder[0]).toMatch(/^Return-Path: <alice@sender\.test>\r\nDelivered-To: bob\+lists@example\.org\r\n/);
  // a tag that looks like a path is never a folder: the inbox
  expect(inbox).toHaveLength(2);
  expect(inbox.some((m) => m.includes('Delivered-To: bob+nofolder@example.org\r\n'))).toBe(true);
  expect(inbox.some((m) => m.includes('Delivered-To: bob+../x@example.org\r\n'))).toBe(true);
  // no mailbox named after the tagged address, nothing made outside bob's maildir
  expect(await readdir(join(root, 'example.org'))).toEqual(['bob']);
  expect((await readdir(join(root, 'example.org', 'bob'))).sort()).toEqual(['.lists', 'cur', 'new', 'tmp']);
  expect(await queue.list()).toEqual([]);
});

it('the maildir refuses a remote domain: deferred 4.3.5, an alert logged and counted, nothing written', async () => {
  const root = join(dir.path, 'mail');
  const { queue, runner, lines } = await setup();
  await send(queue, runner, { recipients: ['someone@elsewhere.example'], nextHop: nextHopOf(`maildir:${root}`) });
  expect(await box(root, 'elsewhere.example', 'someone', 'new')).toEqual([]);
  const [entry] = await queue.list();
  expect(entry?.state).toBe('deferred');
  expect(entry?.recipients?.[0]?.lastError).toMatch(/^451 4\.3\.5 /);
  expect(await counter('moat_queue_delivery_alerts_total', { transport: 'maildir', reason: 'remote-domain-in-maildir' })).toBe(1);
  expect(lines.some((l) => l.msg === 'delivery refused by configuration' && l.alert === 'remote-domain-in-maildir' && l.level === 50)).toBe(true);
});

it('error: bounces with its status and text without a delivery attempt; discard: drops and logs; the DSN to a local sender is delivered locally', async () => {
  const root = join(dir.path, 'mail');
  const local = nextHopOf(`maildir:${root}`);
  const resolver = fakeAddressResolver({
    domains: {
      'example.org': { nextHop: local, users: ['alice', 'bob'] },
      // the real resolver answers unknown users of alias domains with an error: hop
      'alias.example': { nextHop: nextHopOf('error:5.1.1 User unknown in virtual alias table') },
    },
    aliases: { 'owner@example.org': ['alice@example.org'] },
    defaultTransport: nextHopOf('smtp:'),
  });
  const { queue, runner, lines } = await setup({}, { resolver });
  await send(queue, runner, {
    sender: 'alice+sent@example.org',
    recipients: ['gone@example.org', 'spam@example.org'],
    recipientInfo: new Map([
      ['gone@example.org', { nextHop: nextHopOf('error:5.1.1 this user has left') }],
      ['spam@example.org', { nextHop: nextHopOf('discard:policy') }],
    ]),
  });
  // the DSN went where alice resolves (maildir), not by MX lookup (noMx would have deferred it)
  const dsn = await box(root, 'example.org', 'alice', 'new');
  expect(dsn).toHaveLength(1);
  expect(dsn[0]).toContain('Delivered-To: alice+sent@example.org');
  expect(dsn[0]).toContain('Status: 5.1.1');
  expect(dsn[0]).toContain('this user has left');
  expect(dsn[0]).not.toContain('spam@example.org');
  expect(lines.some((l) => l.recipient === 'spam@example.org' && l.status === 'sent' && l.transport === 'discard' && /discarded: policy/.test(String(l.response)))).toBe(true);
  expect(lines.some((l) => l.recipient === 'gone@example.org' && l.status === 'bounced' && l.relay === 'none')).toBe(true);
  expect(await queue.list()).toEqual([]);

  // a sender that is an alias: the bounce goes to its target; a sender without a mailbox here: none
  await send(queue, runner, {
    sender: 'owner@example.org',
    recipients: ['x@example.org'],
    nextHop: nextHopOf('error:5.7.1 no'),
    recipientInfo: new Map([['x@example.org', { original: 'team@example.org' }]]),
  });
  const second = await box(root, 'example.org', 'alice', 'new');
  expect(second).toHaveLength(2);
  expect(second.find((m) => m.includes('Delivered-To: alice@example.org'))).toMatch(/Original-Recipient: rfc822; team@example\.org\r\nFinal-Recipient: rfc822; x@example\.org\r\n/);
  await send(queue, runner, { sender: 'nobody@example.org', recipients: ['x@example.org'], nextHop: nextHopOf('error:5.7.1 no') });
  expect(lines.some((l) => l.msg === 'dsn not sent: the sender has no mailbox here' && l.sender === 'nobody@example.org')).toBe(true);
  await send(queue, runner, { sender: 'who@alias.example', recipients: ['x@example.org'], nextHop: nextHopOf('error:5.7.1 no') });
  expect(lines.some((l) => l.msg === 'dsn not sent: the sender has no mailbox here' && l.sender === 'who@alias.example')).toBe(true);
  expect(await queue.list()).toEqual([]);
});

it('a DSN to a remote sender goes out by its next hop (MX lookup, as before)', async () => {
  const s = await startSink();
  sinks.push(s);
  const mx = loopbackMx();
  const resolver = fakeAddressResolver({ domains: {}, defaultTransport: nextHopOf('smtp:') });
  const { queue, runner } = await setup({ resolver: mx, mxPort: s.port }, { resolver });
  await send(queue, runner, { sender: 'far@sender.test', recipients: ['x@example.org'], nextHop: nextHopOf('error:5.1.1 unknown') });
  expect(mx.asked).toEqual(['sender.test']);
  expect(s.messages).toHaveLength(1);
  expect(s.messages[0]!.sender).toBe('');
  expect(s.messages[0]!.recipients).toEqual(['far@sender.test']);
});

it('a notice to a sender held by retry: is queued to that hop and deferred (qmgr to retry(8)); error: senders get none', async () => {
  const root = join(dir.path, 'mail');
  // the real resolver: it refuses a retry: address at RCPT (resolve() says reason 'retry'), which must not lose the notice
  const resolver = createAddressResolver({
    myhostname: 'mx.test',
    mydestination: [],
    aliasMaps: [],
    virtualAliasDomains: [],
    virtualAliasMaps: [],
    virtualMailboxDomains: ['example.org', 'held.example', 'gone.example'],
    virtualMailboxMaps: [],
    relayDomains: [],
    transportMaps: [createMemoryTable('moat:transports', [
      ['held.example', 'retry:4.3.2 mailbox move in progress'],
      ['gone.example', 'error:5.1.1 this domain has left'],
    ])],
    recipientDelimiter: '+',
    localTransport: nextHopOf(`maildir:${root}`),
    virtualTransport: nextHopOf(`maildir:${root}`),
    relayTransport: nextHopOf('smtp:'),
    defaultTransport: nextHopOf('smtp:'),
    virtualAliasRecursionLimit: 1000,
    virtualAliasExpansionLimit: 1000,
  });
  expect(resolver.resolve('ann@held.example')).toMatchObject({ ok: false, reason: 'retry' });
  const { queue, runner, lines } = await setup({}, { resolver });
  const id = await send(queue, runner, { sender: 'ann@held.example', recipients: ['x@example.org'], nextHop: nextHopOf('error:5.7.1 no') });
  const left = await queue.list();
  expect(left).toHaveLength(1);
  expect(left[0]?.id).not.toBe(id);
  expect(left[0]?.state).toBe('deferred');
  expect(left[0]?.recipients?.[0]?.lastError).toMatch(/^450 4\.3\.2 mailbox move in progress/);
  expect(lines.some((l) => l.msg === 'dsn queued' && l.sender === 'ann@held.example')).toBe(true);
  expect(await counter('moat_queue_bounces_total', { kind: 'dropped' })).toBe(0);

  // error: as Postfix: its notice would be bounced by error(8) as a null-sender message, and that double
  // bounce is discarded (bounce_notify_service.c, notify_classes without 2bounce/bounce): nothing is queued
  await send(queue, runner, { sender: 'bob@gone.example', recipients: ['x@example.org'], nextHop: nextHopOf('error:5.7.1 no') });
  expect(lines.some((l) => l.msg === 'dsn not sent: the sender has no mailbox here' && l.sender === 'bob@gone.example')).toBe(true);
  expect(await queue.list()).toHaveLength(1);
});

it('queue files: v1 without next hops (delivered by route, as before), v2 with them', async () => {
  const root = join(dir.path, 'mail');
  const mem = memoryLogger();
  const queue = await openQueue({ dir: join(dir.path, 'spool'), logger: mem.logger, registry });
  await queue.enqueue({ sender: 'a@sender.test', recipients: ['bob@example.org'], message: message('v1', 'x') });
  await queue.enqueue({ sender: 'a@sender.test', recipients: ['bob@example.org'], message: message('v2', 'x'), nextHop: nextHopOf(`maildir:${root}`) });
  const versions = [];
  for (const id of await queue.names('incoming')) versions.push(decodeQueueFile(await readFile(join(dir.path, 'spool', 'incoming', id))).envelope.v);
  expect(versions).toEqual([1, 2]);
  const runner = await startDelivery({
    queue,
    transports: { local: maildirTransport({ root: join(dir.path, 'legacy'), hostname: 'mx.test' }) },
    router: createRouter({ heloName: 'mx.test', isLocal: (d) => d === 'example.org' }),
    registry,
    scanIntervalMs: 50,
  });
  runners.push(runner);
  await runner.idle();
  expect(await box(join(dir.path, 'legacy'), 'example.org', 'bob', 'new')).toHaveLength(1);
  expect(await box(root, 'example.org', 'bob', 'new')).toHaveLength(1);
});

it('queueRecipients: an alias fan-out is deduplicated and keeps the extension on the wire', () => {
  const hop = nextHopOf('maildir:/srv/mail');
  const resolver = fakeAddressResolver({
    domains: { 'example.org': { nextHop: hop } },
    aliases: { 'team@example.org': ['alice@example.org', 'bob@example.org', 'alice@example.org', 'far@remote.test'] },
    defaultTransport: nextHopOf('smtp:'),
  });
  const res = resolver.resolve('team-x@example.org');
  // '-' is not the delimiter here: no alias matched, a plain mailbox
  expect(res.ok && res.recipients.map((r) => r.address)).toEqual(['team-x@example.org']);
  const fan = resolver.resolve('team+ops@example.org');
  if (!fan.ok) throw new Error('expected ok');
  const q = queueRecipients('team+ops@example.org', fan);
  expect(q.map((r) => r.address)).toEqual(['alice+ops@example.org', 'bob+ops@example.org', 'far+ops@remote.test']);
  expect(q.map((r) => r.info.nextHop?.transport)).toEqual(['maildir', 'maildir', 'smtp']);
  expect(q[0]!.info).toMatchObject({ extension: 'ops', original: 'team+ops@example.org', class: 'virtual-mailbox' });
});

it('nextHopOf reads Postfix transport syntax and moat’s older forms', () => {
  expect(nextHopOf('smtp:[10.0.0.5]:2525')).toMatchObject({ transport: 'smtp', host: '10.0.0.5', port: 2525, mx: false });
  expect(nextHopOf('smtp:[ipv6:2001:db8::1]')).toMatchObject({ transport: 'smtp', host: '2001:db8::1', port: 25, mx: false });
  expect(nextHopOf('smtp:mail.example.net')).toMatchObject({ transport: 'smtp', host: 'mail.example.net', port: 25, mx: true });
  expect(nextHopOf('relay:')).toMatchObject({ transport: 'smtp', host: undefined, mx: true });
  expect(nextHopOf('smtp://10.0.0.5:25')).toMatchObject({ transport: 'smtp', host: '10.0.0.5', port: 25, mx: false });
  expect(nextHopOf('lmtp://127.0.0.1:24')).toMatchObject({ transport: 'lmtp', socket: { host: '127.0.0.1', port: 24 } });
  expect(nextHopOf('lmtp:unix:/run/dovecot/lmtp')).toMatchObject({ transport: 'lmtp', socket: { path: '/run/dovecot/lmtp' } });
  expect(nextHopOf('lmtp:[::1]:24')).toMatchObject({ transport: 'lmtp', socket: { host: '::1', port: 24 } });
  expect(nextHopOf('error:5.1.1 gone away')).toMatchObject({ transport: 'error', status: '5.1.1', text: 'gone away' });
  expect(nextHopOf('error:no such user')).toEqual({ transport: 'error', text: 'no such user', raw: 'error:no such user' });
  expect(nextHopOf('discard:')).toMatchObject({ transport: 'discard', text: '' });
  expect(nextHopOf('maildir:/var/mail/moat')).toMatchObject({ transport: 'maildir', path: '/var/mail/moat' });
  for (const bad of ['maildir:relative', 'maildir:/a/../b', 'uucp:host', 'smtp:[x]:99999', 'lmtp:unix:rel', 'nothing']) {
    expect(() => nextHopOf(bad), bad).toThrow(/bad transport/);
  }
});

it('a v1 local-route file for a remote address (an older gateway’s mistake) goes where it resolves now, not into the maildir', async () => {
  const s = await startSink();
  sinks.push(s);
  const root = join(dir.path, 'mail');
  const resolver = fakeAddressResolver({
    domains: { 'example.org': { nextHop: nextHopOf(`maildir:${root}`) } },
    defaultTransport: nextHopOf(`smtp:[127.0.0.1]:${s.port}`),
  });
  const mem = memoryLogger();
  const queue = await openQueue({ dir: join(dir.path, 'spool'), logger: mem.logger, registry });
  // what the old gateway queued for a mynetworks client: route local, no next hop (v1)
  await queue.enqueue({ sender: 'a@example.org', recipients: ['someone@elsewhere.example', 'bob@example.org'], message: message('old', 'x'), route: 'local' });
  const router = createRouter({ heloName: 'mx.test', isLocal: (d) => d === 'example.org' });
  const runner = await startDelivery({
    queue,
    transports: { local: router.transportFor(nextHopOf(`maildir:${root}`), false) },
    router,
    resolver,
    registry,
    scanIntervalMs: 50,
  });
  runners.push(runner);
  await runner.idle();
  expect(s.messages.map((m) => m.recipients)).toEqual([['someone@elsewhere.example']]);
  expect(await box(root, 'example.org', 'bob', 'new')).toHaveLength(1);
  expect(await readdir(root)).toEqual(['example.org']);
});

it('outbound mail the gateway marked (meta dkim=sign) is DKIM-signed through smtp:[relayhost]; unmarked and mailbox-server mail is not', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const privateKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const s = await startSink();
  sinks.push(s);
  const { queue, runner } = await setup({ dkim: [{ domain: 'sender.test', selector: 's1', privateKey }] });
  const hop = nextHopOf(`smtp:[127.0.0.1]:${s.port}`);
  const marked = { [DKIM_META_KEY]: DKIM_SIGN };
  await send(queue, runner, { recipients: ['far@remote.test'], nextHop: hop, recipientInfo: new Map([['far@remote.test', { class: 'remote' }]]), meta: marked });
  await send(queue, runner, { recipients: ['bob@example.org'], nextHop: hop, recipientInfo: new Map([['bob@example.org', { class: 'virtual-mailbox' }]]), meta: marked });
  // the world's mail forwarded to a remote address (an alias), or a file queued before the mark existed
  await send(queue, runner, { recipients: ['fwd@remote.test'], nextHop: hop, recipientInfo: new Map([['fwd@remote.test', { class: 'remote' }]]), meta: { client: '203.0.113.9' } });
  const byRcpt = new Map(s.messages.map((m) => [m.recipients[0], m.data.toString()]));
  expect(byRcpt.get('far@remote.test')).toMatch(/^DKIM-Signature: .*d=sender\.test/);
  expect(byRcpt.get('bob@example.org')).not.toContain('DKIM-Signature');
  expect(byRcpt.get('fwd@remote.test')).toBeDefined();
  expect(byRcpt.get('fwd@remote.test')).not.toContain('DKIM-Signature');
});
