import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.ts';
import type { DnsScript } from './memory-ports.ts';
import { replyCode, replyLine } from './reply.ts';
import { facts, portsOf, STRANGER, setup } from './engine-test-setup.ts';

describe('step 10: greylist', () => {
  it('defers first, with a 4.7.1 text saying when to retry, then passes with a header', async () => {
    const { engine, clock } = setup({ list: 'check_policy_service inet:127.0.0.1:10023, permit' });
    let v = await engine.evaluate(facts());
    expect(v.action).toBe('defer');
    expect(v.greylisted).toBe(true);
    expect(replyLine(v)).toBe('450 4.7.1 <alice@example.org>: Recipient address rejected: Greylisted, please try again in 60 seconds (after 2026-11-24T12:01:00Z)');
    clock.advance(61_000);
    v = await engine.evaluate(facts());
    expect(v.action).toBe('permit');
    expect(v.prepend).toEqual(['X-Greylist: delayed 61 seconds by moat']);
  });

  it('passes the transaction to the port (null sender as "")', async () => {
    const { engine, greylistCalls } = setup({ list: 'check_policy_service inet:' });
    await engine.evaluate(facts({ sender: '', rawSender: '<>' }));
    expect(greylistCalls[0]).toEqual({ clientAddress: STRANGER, clientName: 'mail.sender.example', helo: 'mail.sender.example', sender: '', recipient: 'alice@example.org' });
  });
});

describe('relay safety', () => {
  const spamPermits = `permit_dnswl_client list.dnswl.org, check_client_access cidr:/m, permit`;
  const dns: DnsScript = { 'list.dnswl.org': { [STRANGER]: { codes: ['127.0.10.2'] } } };
  const maps = { 'cidr:/m': `${STRANGER}/32 OK` };

  it('no spam-policy permit authorises relaying', async () => {
    const { engine } = setup({ list: spamPermits, dns, maps });
    const v = await engine.evaluate(facts({ recipient: 'victim@remote.example', rawRecipient: '<victim@remote.example>' }));
    expect(replyLine(v)).toBe('554 5.7.1 <victim@remote.example>: Relay access denied');
    expect(v.trace.some((t) => t.list === 'recipient')).toBe(false);
  });

  it('even with a relay list that forgot reject_unauth_destination', async () => {
    const { engine } = setup({ list: spamPermits, dns, maps, relay: 'dunno' });
    const v = await engine.evaluate(facts({ recipient: 'victim@remote.example', rawRecipient: '<victim@remote.example>' }));
    expect(v.action).toBe('reject');
    expect(v.trace.at(-1)?.reason).toMatch(/implicit/);
  });

  it('mynetworks and SASL users relay; defer_unauth_destination defers', async () => {
    const { engine } = setup({ list: 'permit' });
    expect((await engine.evaluate(facts({ clientAddress: '10.1.0.5', recipient: 'x@remote.example', rawRecipient: '<x@remote.example>' }))).action).toBe('permit');
    expect((await engine.evaluate(facts({ saslUsername: 'alice', recipient: 'x@remote.example', rawRecipient: '<x@remote.example>' }))).action).toBe('permit');
    const d = await setup({ list: 'permit', relay: 'defer_unauth_destination' }).engine.evaluate(facts({ recipient: 'x@remote.example', rawRecipient: '<x@remote.example>' }));
    expect(replyLine(d)).toBe('454 4.7.1 <x@remote.example>: Relay access denied'); // Postfix: relay_domains_reject_code - 100
  });

  it('permit_auth_destination permits our domains only', async () => {
    const { engine } = setup({ list: 'reject', relay: 'permit_auth_destination, reject_unauth_destination' });
    expect((await engine.evaluate(facts())).action).toBe('reject'); // relay permit does not skip the spam policy
    expect((await engine.evaluate(facts({ recipient: 'x@remote.example', rawRecipient: undefined }))).text).toBe('<x@remote.example>: Relay access denied');
  });

  const hostile: Array<[string, string]> = [
    ['percent hack', 'victim%remote.example@example.org'],
    ['source route', '@example.org:victim@remote.example'],
    ['source route, several hops', '@example.org,@example.net:victim@remote.example'],
    ['bang path', 'remote.example!victim@example.org'],
    ['bare bang path', 'remote.example!victim'],
    ['quoted local part with @', '"victim@remote.example"@example.org'],
    ['quoted local part with %', '"victim%remote.example"@example.org'],
    ['address literal', 'victim@[192.0.2.1]'],
    ['our own address literal', 'postmaster@[192.0.2.25]'],
    ['IPv6 address literal', 'victim@[IPv6:2001:db8::1]'],
  ];
  for (const [name, rcpt] of hostile) {
    it(`refuses ${name} before any permit, whoever the client`, async () => {
      const { engine, dnslist } = setup({ list: spamPermits, dns, maps, relay: 'permit' });
      for (const extra of [{}, { clientAddress: '10.1.0.5' }, { saslUsername: 'alice' }]) {
        const v = await engine.evaluate(facts({ recipient: rcpt, rawRecipient: undefined, ...extra }));
        expect(v.action, rcpt).toBe('reject');
        expect(v.status).toBe('5.7.1');
        expect(v.text).toBe(`<${rcpt}>: Relay access denied`);
        expect(v.trace).toHaveLength(1);
        expect(v.trace[0]?.reason).toMatch(/hostile recipient form/);
      }
      expect(dnslist.lookups).toBe(0);
    });
  }

  it('malformed recipients are syntax errors', async () => {
    const { engine } = setup({ list: 'permit' });
    const v = await engine.evaluate(facts({ recipient: 'a b@example.org', rawRecipient: undefined }));
    expect(replyLine(v)).toBe('501 5.1.3 <a b@example.org>: Bad recipient address syntax');
  });
});

describe('stages and delay_reject', () => {
  const list = 'reject_missing_helo, reject_invalid_helo_hostname, reject_non_fqdn_sender, reject_unlisted_recipient, permit_mynetworks, reject_rbl_client zen.spamhaus.org, check_policy_service inet:, permit';
  const dns: DnsScript = { 'zen.spamhaus.org': { [STRANGER]: { codes: ['127.0.0.2'] } } };

  it('with delay_reject (default), nothing is decided before RCPT', async () => {
    const { engine, dnslist } = setup({ list, dns });
    for (const stage of ['connect', 'helo', 'mail'] as const) {
      const v = await engine.evaluate(facts({ stage, helo: 'bad!', recipient: undefined, rawRecipient: undefined }));
      expect(v.action).toBe('continue');
      expect(v.trace).toEqual([]);
    }
    expect(dnslist.lookups).toBe(0);
    expect((await engine.evaluate(facts({ helo: 'bad!' }))).text).toBe('<bad!>: Helo command rejected: Invalid name');
  });

  it('without delay_reject, HELO and MAIL checks act at their stage, up to the first RCPT-only item', async () => {
    const { engine, dnslist } = setup({ list, dns, spec: { delayReject: false } });
    let v = await engine.evaluate(facts({ stage: 'helo', helo: 'bad!', sender: undefined, rawSender: undefined, recipient: undefined, rawRecipient: undefined }));
    expect(v.action).toBe('reject');
    expect(v.text).toBe('<bad!>: Helo command rejected: Invalid name');
    v = await engine.evaluate(facts({ stage: 'mail', sender: 'x@localhost', rawSender: '<x@localhost>', recipient: undefined, rawRecipient: undefined }));
    expect(v.action).toBe('reject');
    v = await engine.evaluate(facts({ stage: 'mail', recipient: undefined, rawRecipient: undefined }));
    expect(v.action).toBe('continue');
    expect(v.trace.at(-1)).toMatchObject({ restriction: 'reject_unlisted_recipient', outcome: 'skip' });
    expect(dnslist.lookups).toBe(0);
  });

  it('early evaluation: a permit ends the stage only; listed clients are refused at connect', async () => {
    const { engine } = setup({ list: 'permit_mynetworks, reject_rbl_client zen.spamhaus.org, check_policy_service inet:, permit', dns, spec: { delayReject: false } });
    let v = await engine.evaluate(facts({ stage: 'connect', clientAddress: '127.0.0.1', helo: undefined }));
    expect(v.action).toBe('continue');
    v = await engine.evaluate(facts({ stage: 'connect', helo: undefined, sender: undefined, recipient: undefined }));
    expect(v.action).toBe('reject');
    expect(v.text).toBe(`Service unavailable; Client host [${STRANGER}] blocked using zen.spamhaus.org`);
  });

  it('DATA and later stages decide nothing', async () => {
    const { engine } = setup({ list: 'reject' });
    expect((await engine.evaluate(facts({ stage: 'data' }))).action).toBe('continue');
    expect((await engine.evaluate(facts({ stage: 'end-of-data' }))).action).toBe('continue');
  });
});

describe('spec validation', () => {
  it('refuses a malformed network or address', () => {
    expect(() => setup({ spec: { myNetworks: ['10.0.0.1/8'] } })).toThrow(/not a network/);
    expect(() => setup({ spec: { myAddresses: ['nope'] } })).toThrow(/not an IP/);
  });
});

describe('SMTPUTF8 addresses', () => {
  it('a UTF-8 sender domain is fully qualified; a UTF-8 local part is a user like any other', async () => {
    const { engine } = setup({ list: 'reject_non_fqdn_sender, reject_unlisted_recipient, permit' });
    const v = await engine.evaluate(facts({ sender: 'jörg@bücher.example', rawSender: '<jörg@bücher.example>', recipient: 'jürgen@example.org', rawRecipient: '<jürgen@example.org>' }));
    expect(v.text).toBe('<jürgen@example.org>: Recipient address rejected: User unknown in local recipient table');
  });
});

describe("relayControl: 'caller' (moat behind Postfix's check_policy_service)", () => {
  it('trusts the caller: no hostile-form check, no implicit relay denial; the given relay list still runs', async () => {
    const { engine } = setup({ list: 'permit_mynetworks, permit', relay: 'dunno', spec: { relayControl: 'caller' } });
    let v = await engine.evaluate(facts({ clientAddress: '10.1.0.5', recipient: 'x@remote.example', rawRecipient: undefined }));
    expect(v.action).toBe('permit');
    v = await engine.evaluate(facts({ clientAddress: '10.1.0.5', recipient: 'x%y@remote.example', rawRecipient: undefined }));
    expect(v.action).toBe('permit');
    const strict = setup({ list: 'permit', relay: 'reject_unauth_destination', spec: { relayControl: 'caller' } }).engine;
    expect((await strict.evaluate(facts({ recipient: 'x@remote.example', rawRecipient: undefined }))).text).toBe('<x@remote.example>: Relay access denied');
  });

  it("the default ('engine') refuses the same relay for a stranger even with an empty relay list", async () => {
    const { engine } = setup({ list: 'permit', relay: '' });
    expect((await engine.evaluate(facts({ recipient: 'x@remote.example', rawRecipient: undefined }))).action).toBe('reject');
  });
});

describe('DNS whitelists in the relay list', () => {
  it('never authorise relaying (as in Postfix), but still count as no opinion', async () => {
    const dns: DnsScript = { 'list.dnswl.org': { [STRANGER]: { codes: ['127.0.10.2'] } } };
    const { engine } = setup({ list: 'permit', relay: 'permit_dnswl_client list.dnswl.org, reject_unauth_destination', dns });
    const v = await engine.evaluate(facts({ recipient: 'x@remote.example', rawRecipient: undefined }));
    expect(v.text).toBe('<x@remote.example>: Relay access denied');
    expect(v.trace[0]?.reason).toMatch(/never authorises relaying/);
    expect((await engine.evaluate(facts())).action).toBe('permit');
  });
});

describe('port failures', () => {
  const base = () => setup({ list: 'reject_unlisted_recipient, check_policy_service inet:, permit' });
  it('a failing greylist passes (the seed: accept when the greylist daemon is unavailable)', async () => {
    const { engine } = base();
    for (const check of [() => Promise.reject(new Error('redis down')), () => {
      throw new Error('redis down');
    }]) {
      const e = createEngine(engine.spec, { ...portsOf(), greylist: { check: check as never } });
      const v = await e.evaluate(facts());
      expect(v.action).toBe('permit');
      expect(v.trace.find((t) => t.restriction.startsWith('check_policy_service'))?.reason).toMatch(/fail open.*redis down/);
    }
  });

  it('a failing recipient directory is a temporary error (451 4.3.0), in the lists and in the relay safety net', async () => {
    const { engine } = base();
    const broken = { classify: () => Promise.reject(new Error('ldap down')) };
    let v = await createEngine(engine.spec, { ...portsOf(), recipients: broken }).evaluate(facts());
    expect(replyLine(v)).toBe('451 4.3.0 <alice@example.org>: Recipient address rejected: Temporary lookup failure');
    const throwsSync = { classify: () => Promise.resolve('local' as const), classifySync: () => {
      throw new Error('bad table');
    } };
    v = await createEngine(engine.spec, { ...portsOf(), recipients: throwsSync }).evaluate(facts());
    expect(replyCode(v)).toBe(451);
    const noRelayList = { ...engine.spec, relayRestrictions: [] };
    v = await createEngine(noRelayList, { ...portsOf(), recipients: broken }).evaluate(facts());
    expect(replyLine(v)).toBe('451 4.3.0 <alice@example.org>: Recipient address rejected: Temporary lookup failure');
  });
});
