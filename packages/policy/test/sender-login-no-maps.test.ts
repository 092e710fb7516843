// The sender-login restrictions with no smtpd_sender_login_maps, differential: a private Postfix (Debian's
// package, XCLIENT LOGIN) and the engine, same lists; the RCPT (or MAIL) replies must match. Postfix's
// maps_create makes an empty map list, so nobody owns anything: a logged-in client may use no sender.
import { type PostfixInstance, SmtpClient, startPostfix } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, createManualClock, createMemoryAccessMaps, createMemoryDnsList, createMemoryGreylist, createStaticRecipients, DEFAULT_RELAY_RESTRICTIONS, parseRestrictions, replyLine } from '../src/index.ts';

const LISTS: Record<string, string> = {
  login: 'reject_sender_login_mismatch, permit',
  auth: 'reject_authenticated_sender_login_mismatch, permit',
  known: 'reject_known_sender_login_mismatch, permit',
  unauth: 'reject_unauthenticated_sender_login_mismatch, permit',
};
const CASES: Array<{ list: string; login?: string; from: string }> = [];
for (const list of Object.keys(LISTS)) {
  for (const login of ['alice@example.org', undefined]) {
    for (const from of ['alice@example.org', 'ceo@example.org', 'x@elsewhere.example']) CASES.push({ list, ...(login ? { login } : {}), from });
  }
}
const USERS = ['alice@example.org', 'ceo@example.org'];
let postfix: PostfixInstance;

beforeAll(async () => {
  postfix = await startPostfix({
    listeners: LISTS,
    main: {
      mydestination: 'example.org',
      relay_domains: '',
      local_recipient_maps: 'static:x',
      smtpd_sasl_auth_enable: 'yes',
      smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
    },
  });
}, 90_000);
afterAll(async () => {
  await postfix?.stop();
});

async function postfixReply(c: (typeof CASES)[number]): Promise<string> {
  const client = await SmtpClient.connect(postfix.ports[c.list]!);
  try {
    await client.read();
    await client.cmd('EHLO mail.sender.example');
    const x = await client.cmd(`XCLIENT ADDR=198.51.100.7 NAME=mail.sender.example${c.login ? ` LOGIN=${c.login}` : ''}`);
    if (x.code !== 220) throw new Error(`XCLIENT: ${x.code} ${x.text}`);
    await client.cmd('EHLO mail.sender.example');
    const mail = await client.cmd(`MAIL FROM:<${c.from}>`);
    if (mail.code !== 250) return `${mail.code} ${mail.text}`;
    const r = await client.cmd('RCPT TO:<alice@example.org>');
    return `${r.code} ${r.text}`;
  } finally {
    client.destroy();
  }
}

async function moatReply(c: (typeof CASES)[number]): Promise<string> {
  const clock = createManualClock();
  const engine = createEngine(
    {
      myHostname: 'mx.moat.test',
      myAddresses: [],
      myNetworks: ['127.0.0.1/32'],
      delayReject: true,
      strictRfc821Envelopes: false,
      relayRestrictions: DEFAULT_RELAY_RESTRICTIONS,
      recipientRestrictions: parseRestrictions(LISTS[c.list]!),
    },
    { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock }), recipients: createStaticRecipients({ domains: ['example.org'], users: USERS }), accessMaps: createMemoryAccessMaps({}), clock },
  );
  const v = await engine.evaluate({ stage: 'rcpt', clientAddress: '198.51.100.7', clientName: 'mail.sender.example', helo: 'mail.sender.example', sender: c.from, recipient: 'alice@example.org', saslUsername: c.login, tls: false });
  return v.action === 'permit' || v.action === 'continue' ? '250 2.1.5 Ok' : replyLine(v);
}

describe('no smtpd_sender_login_maps: the engine replies as Postfix does', () => {
  for (const c of CASES) {
    it(`${LISTS[c.list]!.split(',')[0]}: ${c.login ?? 'no login'} as ${c.from}`, async () => {
      const [pf, moat] = await Promise.all([postfixReply(c), moatReply(c)]);
      expect(moat, `postfix said: ${pf}`).toBe(pf);
    });
  }
  it('the cases include refusals (the check is not vacuous)', async () => {
    expect(await postfixReply({ list: 'login', login: 'alice@example.org', from: 'alice@example.org' })).toBe(
      '553 5.7.1 <alice@example.org>: Sender address rejected: not owned by user alice@example.org',
    );
  });
});
