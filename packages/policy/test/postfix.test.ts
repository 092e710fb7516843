// The restrictions pasted Postfix lists use, differential: the same list, maps and client against a real,
// private Postfix (Debian's package, through XCLIENT) and against the engine; the RCPT replies must match.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PostfixInstance, SmtpClient, startPostfix, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, createManualClock, createMemoryAccessMaps, createMemoryDnsList, createMemoryGreylist, createStaticRecipients, DEFAULT_RELAY_RESTRICTIONS, type Facts, parseRestrictions, replyLine } from '../src/index.ts';

const MAPS: Record<string, Record<string, string>> = {
  sender: {
    'spammer@sender.example': 'REJECT',
    'bad.example': 'REJECT bad domain',
    'carol@': 'DEFER',
    '<>': 'REJECT no bounces',
  },
  rcpt: { 'bob@': 'REJECT bob is away' },
  helo: { 'evil.example': 'REJECT go away' },
  client: { 'sender.example': 'REJECT client domain', '203.0.113': 'REJECT your network', unknown: 'REJECT no name', '2001:db8': 'REJECT v6 net' },
  login: { 'alice@example.org': 'alice', '@example.org': 'admin', 'shared@example.org': 'alice, bob' },
};
const USERS = ['alice@example.org', 'bob@example.org', 'ceo@example.org', 'shared@example.org'];

// The lists, each on its own Postfix listener; `M:name` is the map file of MAPS[name].
const LISTS: Record<string, string> = {
  access: 'check_sender_access M:sender, check_recipient_access M:rcpt, check_helo_access M:helo, permit',
  login: 'reject_sender_login_mismatch, permit',
  known: 'reject_known_sender_login_mismatch, permit',
  client: 'reject_unknown_client_hostname, permit',
  reverse: 'reject_unknown_reverse_client_hostname, permit',
  warn: 'warn_if_reject reject, permit',
  dip: 'defer_if_permit, permit',
  dir: 'defer_if_reject, reject',
  dipr: 'defer_if_permit, reject',
  both: 'defer_if_permit, defer_if_reject, reject',
  wdip: 'warn_if_reject defer_if_permit, permit',
  dirp: 'defer_if_reject, permit',
  wend: 'permit_mynetworks, warn_if_reject',
  plain: 'permit',
  clientmap: 'check_client_access M:client, permit',
};

interface Case {
  list: keyof typeof LISTS;
  addr?: string;
  name?: string;
  reverse?: string;
  helo?: string;
  login?: string;
  from?: string;
  to?: string;
}

const CASES: Record<string, Case> = {
  'sender REJECT': { list: 'access', from: 'spammer@sender.example' },
  'sender with extension': { list: 'access', from: 'spammer+x@sender.example' },
  'sender parent domain': { list: 'access', from: 'x@sub.bad.example' },
  'sender user@ DEFER': { list: 'access', from: 'carol@other.example' },
  'null sender': { list: 'access', from: '' },
  'recipient user@ with extension': { list: 'access', to: 'bob+x@example.org' },
  'helo parent domain': { list: 'access', helo: 'mail.evil.example' },
  'access: clean': { list: 'access' },
  'login: own address': { list: 'login', login: 'alice', from: 'alice@example.org' },
  'login: shared address': { list: 'login', login: 'bob', from: 'shared@example.org' },
  'login: someone else\'s': { list: 'login', login: 'alice', from: 'ceo@example.org' },
  'login: nobody\'s address': { list: 'login', login: 'alice', from: 'x@elsewhere.example' },
  'login: owned, not logged in': { list: 'login', from: 'alice@example.org' },
  'login: not owned, not logged in': { list: 'login', from: 'x@elsewhere.example' },
  'known: nobody\'s address': { list: 'known', login: 'alice', from: 'x@elsewhere.example' },
  'known: someone else\'s': { list: 'known', login: 'alice', from: 'ceo@example.org' },
  'client: no name': { list: 'client', name: '[UNAVAILABLE]' },
  'client: lookup failed': { list: 'client', name: '[TEMPUNAVAIL]' },
  'client: named': { list: 'client' },
  'reverse: no name': { list: 'reverse', reverse: '[UNAVAILABLE]' },
  'reverse: lookup failed': { list: 'reverse', reverse: '[TEMPUNAVAIL]' },
  'warn_if_reject reject': { list: 'warn' },
  defer_if_permit: { list: 'dip' },
  defer_if_reject: { list: 'dir' },
  'defer_if_permit, then reject': { list: 'dipr' },
  'defer_if_permit and defer_if_reject, then reject': { list: 'both' },
  'warn_if_reject defer_if_permit': { list: 'wdip' },
  'defer_if_reject, then permit': { list: 'dirp' },
  'warn_if_reject last, then the implicit unknown user': { list: 'wend', to: 'nobody@example.org' },
  'defer_if_reject, then the implicit unknown user': { list: 'dirp', to: 'nobody@example.org' },
  'implicit reject_unlisted_recipient': { list: 'plain', to: 'nobody@example.org' },
  'implicit: a known user': { list: 'plain' },
  'check_client_access: parent of the client name': { list: 'clientmap' },
  'check_client_access: network prefix': { list: 'clientmap', addr: '203.0.113.5', name: 'mx.other.example' },
  'check_client_access: no verified name is `unknown`': { list: 'clientmap', addr: '203.0.113.5', name: '[UNAVAILABLE]' },
  'check_client_access: IPv6 prefix': { list: 'clientmap', addr: '2001:db8::7', name: 'mx.other.example' },
  'check_client_access: nothing found': { list: 'clientmap', addr: '192.0.2.9', name: 'mx.other.example', reverse: 'mx.other.example' },
  'implicit reject_unlisted_sender': { list: 'plain', from: 'nobody@example.org' },
  'implicit: a known sender of ours': { list: 'plain', from: 'ceo@example.org' },
};

const CLIENT = '198.51.100.7';
const HOST = 'mail.sender.example';
let postfix: PostfixInstance;
let dir: Awaited<ReturnType<typeof tmpDir>>;

beforeAll(async () => {
  dir = await tmpDir('policy-postfix');
  const file = (name: string) => join(dir.path, `${name}.map`);
  for (const [name, table] of Object.entries(MAPS)) await writeFile(file(name), Object.entries(table).map(([k, v]) => `${k} ${v}\n`).join(''));
  await writeFile(file('users'), USERS.map((u) => `${u} x\n`).join(''));
  const listeners = Object.fromEntries(Object.entries(LISTS).map(([k, v]) => [k, v.replace(/M:(\w+)/g, (_, m: string) => `texthash:${file(m)}`)]));
  postfix = await startPostfix({
    listeners,
    main: {
      mydestination: 'example.org',
      relay_domains: '',
      local_recipient_maps: `texthash:${file('users')}`,
      recipient_delimiter: '+',
      smtpd_sasl_auth_enable: 'yes',
      smtpd_sender_login_maps: `texthash:${file('login')}`,
      smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
      smtpd_reject_unlisted_sender: 'yes',
      // not the default (450): so a permanent and a temporary failure differ
      unknown_client_reject_code: '550',
      inet_protocols: 'all', // XCLIENT takes IPv6 addresses only then
    },
  });
}, 90_000);

afterAll(async () => {
  await postfix?.stop();
  await dir?.remove();
});

async function postfixReply(c: Case): Promise<string> {
  const client = await SmtpClient.connect(postfix.ports[c.list]!);
  try {
    await client.read();
    await client.cmd(`EHLO ${c.helo ?? HOST}`);
    const login = c.login ? ` LOGIN=${c.login}` : '';
    const x = await client.cmd(`XCLIENT ADDR=${c.addr?.includes(':') ? `IPV6:${c.addr}` : (c.addr ?? CLIENT)} NAME=${c.name ?? HOST} REVERSE_NAME=${c.reverse ?? HOST}${login}`);
    if (x.code !== 220) throw new Error(`XCLIENT: ${x.code} ${x.text}`);
    await client.cmd(`EHLO ${c.helo ?? HOST}`);
    const mail = await client.cmd(`MAIL FROM:<${c.from ?? 'dave@sender.example'}>`);
    if (mail.code !== 250) return `${mail.code} ${mail.text}`;
    const r = await client.cmd(`RCPT TO:<${c.to ?? 'alice@example.org'}>`);
    return `${r.code} ${r.text}`;
  } finally {
    client.destroy();
  }
}

function moatReply(c: Case): Promise<string> {
  const clock = createManualClock();
  const maps = createMemoryAccessMaps(Object.fromEntries(Object.entries(MAPS).map(([k, v]) => [`hash:${k}`, v])));
  const engine = createEngine(
    {
      myHostname: 'mx.moat.test',
      myAddresses: [],
      myNetworks: ['127.0.0.1/32'],
      delayReject: true,
      strictRfc821Envelopes: false,
      relayRestrictions: DEFAULT_RELAY_RESTRICTIONS,
      recipientRestrictions: parseRestrictions(LISTS[c.list]!.replace(/M:(\w+)/g, 'hash:$1')),
      senderLoginMaps: ['hash:login'],
      recipientDelimiter: '+',
      rejectUnlistedSender: true,
      unknownClientRejectCode: 550,
    },
    { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock }), recipients: createStaticRecipients({ domains: ['example.org'], users: USERS }), accessMaps: maps, clock },
  );
  const unknown = (n: string | undefined) => n === '[UNAVAILABLE]' || n === '[TEMPUNAVAIL]';
  const facts: Facts = {
    stage: 'rcpt',
    clientAddress: c.addr ?? CLIENT,
    clientName: unknown(c.name) ? undefined : (c.name ?? HOST),
    clientNameTempFail: c.name === '[TEMPUNAVAIL]',
    reverseClientName: unknown(c.reverse) ? undefined : (c.reverse ?? HOST),
    reverseClientNameTempFail: c.reverse === '[TEMPUNAVAIL]',
    helo: c.helo ?? HOST,
    sender: c.from ?? 'dave@sender.example',
    recipient: c.to ?? 'alice@example.org',
    saslUsername: c.login,
    tls: false,
  };
  return engine.evaluate(facts).then((v) => (v.action === 'permit' || v.action === 'continue' ? '250 2.1.5 Ok' : replyLine(v)));
}

describe('the engine replies as Postfix does', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const [pf, moat] = await Promise.all([postfixReply(c), moatReply(c)]);
      if (process.env.SHOW) console.log(`${name}: ${pf}`);
      expect(moat, `postfix said: ${pf}`).toBe(pf);
    });
  }
});
