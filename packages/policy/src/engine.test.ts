import { describe, expect, it } from 'vitest';
import { createCidrAccessMap } from './cidr-map.ts';
import { createEngine } from './engine.ts';
import { createManualClock, createMemoryGreylist, type DnsScript } from './memory-ports.ts';
import { createStaticRecipients } from './recipients.ts';
import { replyCode, replyLine } from './reply.ts';
import { facts, portsOf, STRANGER, setup } from './engine-test-setup.ts';

describe('generic restrictions and ordering', () => {
  it('permit / reject / defer / dunno; first decisive wins, DUNNO continues', async () => {
    const { engine } = setup({ list: 'dunno, permit, reject' });
    const v = await engine.evaluate(facts());
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit');
    expect(v.trace.filter((t) => t.list === 'recipient').map((t) => [t.restriction, t.outcome])).toEqual([
      ['dunno', 'dunno'],
      ['permit', 'permit'],
    ]);
    const r = await setup({ list: 'reject, permit' }).engine.evaluate(facts());
    expect(replyLine(r)).toBe('554 5.7.1 <alice@example.org>: Recipient address rejected: Access denied');
    // the parts travel apart, so each edge formats them once (policyd drops the subject: Postfix adds its own)
    expect(r.subject).toEqual({ name: 'alice@example.org', context: 'Recipient address rejected' });
    expect(r.message).toBe('Access denied');
    const d = await setup({ list: 'defer' }).engine.evaluate(facts());
    expect(d.action).toBe('defer');
    expect(replyCode(d)).toBe(450);
  });

  it('an empty decision is continue (the edge accepts at the last stage)', async () => {
    const v = await setup({ list: 'dunno' }).engine.evaluate(facts());
    expect(v.action).toBe('continue');
    expect(replyCode(v)).toBe(250);
  });

  it('relay control runs first, then the spam policy: both are traced in order', async () => {
    const v = await setup({ list: 'permit' }).engine.evaluate(facts());
    expect(v.trace.map((t) => `${t.list}:${t.restriction}`)).toEqual([
      'relay:permit_mynetworks',
      'relay:permit_sasl_authenticated',
      'relay:reject_unauth_destination',
      'recipient:permit',
    ]);
  });

  it('a relay-list permit does not skip the spam policy', async () => {
    const v = await setup({ list: 'reject' }).engine.evaluate(facts({ clientAddress: '10.1.2.3' }));
    expect(v.action).toBe('reject');
    expect(v.trace[0]).toMatchObject({ list: 'relay', restriction: 'permit_mynetworks', outcome: 'permit' });
  });

  it('traces time from the clock port', async () => {
    const v = await setup().engine.evaluate(facts());
    for (const t of v.trace) expect(t.ms).toBe(0);
  });
});

describe('steps 1-4', () => {
  it('reject_missing_helo', async () => {
    const { engine } = setup({ list: 'reject_missing_helo' });
    const v = await engine.evaluate(facts({ helo: undefined }));
    expect(replyLine(v)).toBe('503 5.5.1 Error: send HELO/EHLO first');
    expect((await engine.evaluate(facts())).action).toBe('continue');
  });

  it('reject_invalid_helo_hostname: syntax and address literals', async () => {
    const { engine } = setup({ list: 'reject_invalid_helo_hostname' });
    const bad = ['bad_name!', '-lead.example', 'a..b', 'x'.repeat(64) + '.example', '[1.2.3]', '[1.2.3.4', '[2001:db8::1]', '[IPv6:zz::1]', '1.2.3.4', 'host name'];
    for (const helo of bad) {
      const v = await engine.evaluate(facts({ helo }));
      expect(v.action, helo).toBe('reject');
      expect(replyLine(v)).toBe(`501 5.5.2 <${helo}>: Helo command rejected: Invalid name`);
    }
    for (const helo of ['mail.sender.example', 'localhost', '[198.51.100.7]', '[IPv6:2001:db8::7]', 'under_score.example', 'MAIL.Sender.Example.']) {
      expect((await engine.evaluate(facts({ helo }))).action, helo).toBe('continue');
    }
  });

  it('reject_invalid_helo_hostname: our own name or address from outside is refused, from mynetworks allowed', async () => {
    const { engine } = setup({ list: 'reject_invalid_helo_hostname' });
    for (const helo of ['mx.example.org', 'MX.EXAMPLE.ORG.', '[192.0.2.25]', '[IPv6:2001:db8:0::25]']) {
      const v = await engine.evaluate(facts({ helo }));
      expect(v.action, helo).toBe('reject');
      expect(v.text).toBe(`<${helo}>: Helo command rejected: You are not me`);
      expect(replyCode(v)).toBe(554);
      expect((await engine.evaluate(facts({ helo, clientAddress: '10.1.0.9' }))).action, helo).toBe('continue');
    }
  });

  it('reject_non_fqdn_helo_hostname', async () => {
    const { engine } = setup({ list: 'reject_non_fqdn_helo_hostname' });
    const v = await engine.evaluate(facts({ helo: 'localhost' }));
    expect(replyLine(v)).toBe('504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
    expect((await engine.evaluate(facts({ helo: 'host.123' }))).action).toBe('reject');
    expect((await engine.evaluate(facts({ helo: '[192.0.2.1]' }))).action).toBe('continue');
    expect((await engine.evaluate(facts({ helo: 'mail.sender.example' }))).action).toBe('continue');
    expect((await engine.evaluate(facts({ helo: undefined }))).trace.at(-1)?.outcome).toBe('skip');
  });

  it('reject_non_fqdn_sender; the null sender is accepted', async () => {
    const { engine } = setup({ list: 'reject_non_fqdn_sender' });
    const v = await engine.evaluate(facts({ sender: 'bob@localhost', rawSender: '<bob@localhost>' }));
    expect(replyLine(v)).toBe('504 5.5.2 <bob@localhost>: Sender address rejected: need fully-qualified address');
    expect((await engine.evaluate(facts({ sender: 'bob', rawSender: '<bob>' }))).action).toBe('reject');
    expect((await engine.evaluate(facts({ sender: '', rawSender: '<>' }))).action).toBe('continue');
    expect((await engine.evaluate(facts({ sender: 'bob@[192.0.2.1]', rawSender: '<bob@[192.0.2.1]>' }))).action).toBe('continue');
  });

  it('reject_non_fqdn_recipient; a bare postmaster is accepted before any restriction, as Postfix does', async () => {
    const { engine } = setup({ list: 'reject_non_fqdn_recipient, reject', relay: 'permit' });
    const v = await engine.evaluate(facts({ recipient: 'bob@localhost', rawRecipient: '<bob@localhost>' }));
    expect(replyLine(v)).toBe('504 5.5.2 <bob@localhost>: Recipient address rejected: need fully-qualified address');
    // Debian's Postfix 3.7 with `reject_non_fqdn_recipient, reject` answers 250 2.1.5 to RCPT TO:<postmaster> (checked)
    const pm = await engine.evaluate(facts({ recipient: 'Postmaster', rawRecipient: '<Postmaster>' }));
    expect(pm.action).toBe('continue');
    expect(pm.trace.at(-1)?.restriction).toBe('postmaster');
  });

  it('strict_rfc821_envelopes: brackets required, <> accepted, syntax refused at MAIL/RCPT', async () => {
    const { engine } = setup({ list: 'permit' });
    let v = await engine.evaluate(facts({ stage: 'mail', rawSender: 'bob@sender.example', recipient: undefined, rawRecipient: undefined }));
    expect(replyLine(v)).toBe('501 5.1.7 Bad sender address syntax');
    v = await engine.evaluate(facts({ stage: 'mail', rawSender: '<bob@localhost>', sender: 'bob@localhost' }));
    expect(v.action).toBe('continue'); // syntax is fine; FQDN is reject_non_fqdn_sender's business
    v = await engine.evaluate(facts({ stage: 'mail', rawSender: '<bob@sender.example> SIZE=100' }));
    expect(v.action).toBe('reject');
    v = await engine.evaluate(facts({ stage: 'mail', rawSender: '<>', sender: '' }));
    expect(v.action).toBe('continue');
    v = await engine.evaluate(facts({ stage: 'mail', rawSender: '<bob smith@sender.example>' }));
    expect(v.action).toBe('reject');
    v = await engine.evaluate(facts({ stage: 'mail', rawSender: '<"bob smith"@sender.example>' }));
    expect(v.action).toBe('continue');
    v = await engine.evaluate(facts({ rawRecipient: 'alice@example.org' }));
    expect(replyLine(v)).toBe('501 5.1.3 Bad recipient address syntax');
    v = await engine.evaluate(facts({ rawRecipient: '<>' }));
    expect(v.action).toBe('reject');
    // without strictness, the bare form passes; without a raw form (policyd), nothing is checked
    const lax = setup({ list: 'permit', spec: { strictRfc821Envelopes: false } }).engine;
    expect((await lax.evaluate(facts({ rawSender: 'bob@sender.example', rawRecipient: 'alice@example.org' }))).action).toBe('permit');
    expect((await engine.evaluate(facts({ rawSender: undefined, rawRecipient: undefined }))).action).toBe('permit');
  });

  it('reject_unlisted_recipient: users, +tag extensions, catch-all, backup-MX domains', async () => {
    const { engine } = setup({ list: 'reject_unlisted_recipient' });
    const v = await engine.evaluate(facts({ recipient: 'mallory@example.org', rawRecipient: '<mallory@example.org>' }));
    expect(replyLine(v)).toBe('550 5.1.1 <mallory@example.org>: Recipient address rejected: User unknown in local recipient table');
    for (const rcpt of ['alice@example.org', 'ALICE@Example.ORG', 'alice+lists@example.org', 'anyone@example.net', 'anyone@backup.example']) {
      expect((await engine.evaluate(facts({ recipient: rcpt, rawRecipient: `<${rcpt}>` }))).action, rcpt).toBe('continue');
    }
    expect((await engine.evaluate(facts({ recipient: 'mallory+x@example.org', rawRecipient: '<mallory+x@example.org>' }))).action).toBe('reject');
  });

  it('a bare postmaster is accepted (asked as postmaster@myhostname)', async () => {
    const { engine } = setup({ list: 'reject_unlisted_recipient' });
    const v = await engine.evaluate(facts({ recipient: 'postmaster', rawRecipient: '<postmaster>' }));
    expect(v.action).toBe('continue');
  });
});

describe('steps 5-6', () => {
  it('permit_mynetworks: IPv4, IPv6, IPv4-mapped IPv6', async () => {
    const { engine } = setup({ list: 'permit_mynetworks, reject' });
    for (const ip of ['127.0.0.1', '10.1.255.255', '::1', '::ffff:10.1.0.1']) expect((await engine.evaluate(facts({ clientAddress: ip }))).action, ip).toBe('permit');
    for (const ip of ['10.2.0.1', '::2', STRANGER, 'unknown']) expect((await engine.evaluate(facts({ clientAddress: ip }))).action, ip).toBe('reject');
  });

  it('permit_sasl_authenticated', async () => {
    const { engine } = setup({ list: 'permit_sasl_authenticated, reject' });
    expect((await engine.evaluate(facts({ saslUsername: 'alice' }))).action).toBe('permit');
    expect((await engine.evaluate(facts({ saslUsername: '' }))).action).toBe('reject');
  });

  it('check_client_access cidr: OK, REJECT text, DUNNO, DEFER, 4xx/5xx, PREPEND, unknown map', async () => {
    const map = 'cidr:/etc/moat/rbl_override';
    const table = `# override
198.51.100.0/28   OK
198.51.100.16/28  REJECT go away
198.51.100.32/28  DUNNO
198.51.100.48/28  DEFER
198.51.100.64/28  550 5.7.0 not here
198.51.100.80/28  421 later
198.51.100.96/28  PREPEND X-Override: yes
2001:db8:1::/48   REJECT
`;
    const { engine } = setup({ list: `check_client_access ${map}, reject_rbl_client zen.spamhaus.org, permit`, maps: { [map]: table }, dns: { 'zen.spamhaus.org': { '198.51.100.1': { codes: ['127.0.0.2'] }, '198.51.100.33': { codes: ['127.0.0.2'] } } } });
    let v = await engine.evaluate(facts({ clientAddress: '198.51.100.1' }));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe(`check_client_access ${map}`);
    v = await engine.evaluate(facts({ clientAddress: '198.51.100.17' }));
    expect(replyLine(v)).toBe('554 5.7.1 <mail.sender.example[198.51.100.17]>: Client host rejected: go away');
    v = await engine.evaluate(facts({ clientAddress: '198.51.100.33' }));
    expect(v.decidedBy).toBe('reject_rbl_client zen.spamhaus.org');
    v = await engine.evaluate(facts({ clientAddress: '198.51.100.49' }));
    expect(replyLine(v)).toBe('450 4.7.1 <mail.sender.example[198.51.100.49]>: Client host rejected: Access denied');
    v = await engine.evaluate(facts({ clientAddress: '198.51.100.65', clientName: undefined }));
    expect(replyLine(v)).toBe('550 5.7.0 <unknown[198.51.100.65]>: Client host rejected: not here');
    v = await engine.evaluate(facts({ clientAddress: '198.51.100.81' }));
    expect(replyLine(v)).toBe('421 4.7.1 <mail.sender.example[198.51.100.81]>: Client host rejected: later');
    v = await engine.evaluate(facts({ clientAddress: '198.51.100.97' }));
    expect(v.action).toBe('permit');
    expect(v.prepend).toEqual(['X-Override: yes']);
    v = await engine.evaluate(facts({ clientAddress: '2001:db8:1::5' }));
    expect(replyLine(v)).toBe('554 5.7.1 <mail.sender.example[2001:db8:1::5]>: Client host rejected: Access denied');
    const missing = setup({ list: 'check_client_access cidr:/nope, permit' }).engine;
    v = await missing.evaluate(facts());
    expect(replyLine(v)).toBe('451 4.3.0 <mail.sender.example[198.51.100.7]>: Temporary lookup failure');
    expect(v.trace.at(-1)?.outcome).toBe('defer');
  });
});

describe('DNS lists, steps 7-9', () => {
  const script: DnsScript = {
    'list.dnswl.org': { '192.0.2.10': { codes: ['127.0.10.2'] }, '192.0.2.11': { codes: ['127.0.10.0'] } },
    'zen.spamhaus.org': { '192.0.2.10': { codes: ['127.0.0.2'] }, '192.0.2.20': { codes: ['127.0.0.4'], txt: 'https://www.spamhaus.org/query/ip/192.0.2.20' }, '192.0.2.30': 'unknown' },
    'dbl.spamhaus.org': { 'spammer.example': { codes: ['127.0.1.2'] } },
    'rhswl.example': { 'good.example': { codes: ['127.0.0.2'] } },
  };
  const list = `permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3],
    reject_rhsbl_reverse_client dbl.spamhaus.org,
    reject_rhsbl_sender dbl.spamhaus.org,
    reject_rhsbl_client dbl.spamhaus.org,
    reject_rhsbl_helo dbl.spamhaus.org,
    reject_rbl_client zen.spamhaus.org,
    permit_rhswl_client rhswl.example,
    check_policy_service inet:127.0.0.1:10023,
    permit`;

  it('queries every remaining list in ONE lookup, deduplicated, then evaluates in order', async () => {
    const { engine, dnslist } = setup({ list, dns: script });
    await engine.evaluate(facts({ clientAddress: '192.0.2.99' }));
    expect(dnslist.lookups).toBe(1);
    expect(dnslist.last.map((q) => `${q.zone}/${q.target}/${q.key}`)).toEqual([
      'list.dnswl.org/client/192.0.2.99',
      'dbl.spamhaus.org/reverse-client-name/mail.sender.example',
      'dbl.spamhaus.org/sender-domain/sender.example',
      // the HELO name equals the reverse name: same zone and key, asked once
      'zen.spamhaus.org/client/192.0.2.99',
      'rhswl.example/client-name/mail.sender.example',
    ]);
  });

  it('a DNSWL hit matching the filter permits (and so skips the greylist) even when blacklisted', async () => {
    const { engine, greylistCalls } = setup({ list, dns: script });
    const v = await engine.evaluate(facts({ clientAddress: '192.0.2.10' }));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3]');
    expect(greylistCalls).toHaveLength(0);
  });

  it('a DNSWL answer outside the filter does not permit', async () => {
    const { engine } = setup({ list, dns: script });
    const v = await engine.evaluate(facts({ clientAddress: '192.0.2.11' }));
    expect(v.trace.find((t) => t.restriction.startsWith('permit_dnswl_client'))?.reason).toContain('no code matches');
    expect(v.greylisted).toBe(true);
  });

  it('reject_rbl_client: Postfix reply with the TXT reason', async () => {
    const { engine } = setup({ list, dns: script });
    const v = await engine.evaluate(facts({ clientAddress: '192.0.2.20' }));
    expect(replyLine(v)).toBe('554 5.7.1 Service unavailable; Client host [192.0.2.20] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.20');
    expect(v.decidedByType).toBe('reject_rbl_client');
  });

  it('reject_rhsbl_* use the name they are about', async () => {
    const e = setup({ list, dns: script }).engine;
    let v = await e.evaluate(facts({ reverseClientName: 'host.spammer.example'.replace('host.', '') }));
    expect(v.text).toBe('Service unavailable; Unverified Client host [spammer.example] blocked using dbl.spamhaus.org');
    v = await e.evaluate(facts({ sender: 'x@spammer.example', rawSender: '<x@spammer.example>' }));
    expect(v.text).toBe('Service unavailable; Sender address [spammer.example] blocked using dbl.spamhaus.org');
    v = await e.evaluate(facts({ clientName: 'spammer.example', reverseClientName: 'other.example' }));
    expect(v.text).toBe('Service unavailable; Client host [spammer.example] blocked using dbl.spamhaus.org');
    v = await e.evaluate(facts({ helo: 'spammer.example' }));
    expect(v.text).toBe('Service unavailable; Helo command [spammer.example] blocked using dbl.spamhaus.org');
  });

  it('permit_rhswl_client on the verified name; unverified names are not looked up', async () => {
    const { engine, dnslist } = setup({ list, dns: script });
    let v = await engine.evaluate(facts({ clientName: 'good.example' }));
    expect(v.action).toBe('permit');
    v = await engine.evaluate(facts({ clientName: undefined, reverseClientName: undefined, sender: '', rawSender: '<>' }));
    expect(dnslist.last.map((q) => q.target)).toEqual(['client', 'helo', 'client']);
    expect(v.trace.find((t) => t.restriction === 'reject_rhsbl_sender dbl.spamhaus.org')?.outcome).toBe('skip');
  });

  it('an unknown answer (timeout) counts as not listed and is noted in the trace', async () => {
    const { engine } = setup({ list, dns: script });
    const v = await engine.evaluate(facts({ clientAddress: '192.0.2.30' }));
    expect(v.greylisted).toBe(true);
    expect(v.trace.find((t) => t.restriction === 'reject_rbl_client zen.spamhaus.org')?.reason).toMatch(/unknown.*not listed.*timeout/);
  });

  it('a port that throws despite its promise fails open', async () => {
    const { engine } = setup({ list: 'reject_rbl_client zen.spamhaus.org, permit' });
    const e2 = createEngine(engine.spec, {
      dnslist: { lookup: () => Promise.reject(new Error('boom')) },
      greylist: createMemoryGreylist({ clock: createManualClock() }),
      recipients: createStaticRecipients({ domains: ['example.org'], users: ['alice@example.org'] }),
      accessMaps: createCidrAccessMap({}),
      clock: createManualClock(),
    });
    const v = await e2.evaluate(facts());
    expect(v.action).toBe('permit');
    expect(v.trace.find((t) => t.restriction.startsWith('reject_rbl'))?.reason).toContain('boom');
  });

  it('the IPv6 client key is canonical, IPv4-mapped clients are looked up as IPv4', async () => {
    const { engine, dnslist } = setup({ list: 'reject_rbl_client zen.spamhaus.org, permit' });
    await engine.evaluate(facts({ clientAddress: '2001:DB8:0:0::7' }));
    expect(dnslist.last[0]?.key).toBe('2001:db8::7');
    await engine.evaluate(facts({ clientAddress: '::ffff:192.0.2.1' }));
    expect(dnslist.last[0]?.key).toBe('192.0.2.1');
  });
});

describe('mixed lists (hostkarma): each query says what it is for', () => {
  // The seed's DNS-list steps (7-9), hostkarma used to permit (=127.0.0.[1;5]) and to reject (=).
  const seedDns = `permit_dnswl_client iadb.isipp.com=,
    permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3],
    permit_dnswl_client hostkarma.junkemailfilter.com=127.0.0.[1;5],
    reject_rhsbl_reverse_client dbl.spamhaus.org,
    reject_rhsbl_sender dbl.spamhaus.org,
    reject_rhsbl_client dbl.spamhaus.org,
    reject_rbl_client zen.spamhaus.org,
    reject_rbl_client hostkarma.junkemailfilter.com=,
    permit_dnswl_client wl.mailspike.net,
    permit_dnswl_client hostkarma.junkemailfilter.com=,
    check_policy_service inet:127.0.0.1:10023,
    permit`;
  // The seed without its early hostkarma permit: nothing catches a whitelisted client before the reject.
  const noEarlyPermit = seedDns.replace('permit_dnswl_client hostkarma.junkemailfilter.com=127.0.0.[1;5],', '');
  const WHITE = '192.0.2.50';
  const NOBL = '192.0.2.55';
  const BLACK = '192.0.2.51';
  // What the real client answers after the hostkarma profile: 127.0.0.1 counts for `allow` only,
  // 127.0.0.2 for `block` only, 127.0.0.5 (NOBL) for neither.
  const dns: DnsScript = {
    'hostkarma.junkemailfilter.com': { [WHITE]: { codes: ['127.0.0.1'], use: 'allow' }, [BLACK]: { codes: ['127.0.0.2'], use: 'block' } },
  };

  it('permit_* queries ask for allow, reject_* for block; a zone used both ways is asked once per use', async () => {
    const { engine, dnslist } = setup({ list: seedDns, dns });
    await engine.evaluate(facts({ clientAddress: '192.0.2.99' }));
    expect(dnslist.lookups).toBe(1);
    expect(dnslist.last.map((q) => `${q.zone}/${q.target}/${q.use}`)).toEqual([
      'iadb.isipp.com/client/allow',
      'list.dnswl.org/client/allow',
      'hostkarma.junkemailfilter.com/client/allow',
      'dbl.spamhaus.org/reverse-client-name/block',
      'dbl.spamhaus.org/sender-domain/block',
      'zen.spamhaus.org/client/block',
      'hostkarma.junkemailfilter.com/client/block',
      'wl.mailspike.net/client/allow',
    ]);
  });

  it('a client on the hostkarma whitelist (127.0.0.1) only is not rejected by `reject_rbl_client hostkarma=`, even with no earlier permit', async () => {
    for (const list of [seedDns, noEarlyPermit]) {
      const { engine } = setup({ list, dns });
      const v = await engine.evaluate(facts({ clientAddress: WHITE }));
      expect(v.action).toBe('permit');
      expect(v.decidedByType).toBe('permit_dnswl_client');
      const reject = v.trace.find((t) => t.restriction === 'reject_rbl_client hostkarma.junkemailfilter.com=');
      if (list === noEarlyPermit) expect(reject?.outcome).toBe('dunno');
    }
    // and with only the reject: no opinion, on to the greylist
    const { engine } = setup({ list: 'reject_rbl_client hostkarma.junkemailfilter.com=, check_policy_service inet:127.0.0.1:10023, permit', dns });
    const v = await engine.evaluate(facts({ clientAddress: WHITE }));
    expect(v.action).toBe('defer');
    expect(v.greylisted).toBe(true);
  });

  it('the hostkarma blacklist code rejects and never permits', async () => {
    const { engine } = setup({ list: seedDns, dns });
    const v = await engine.evaluate(facts({ clientAddress: BLACK }));
    expect(v.action).toBe('reject');
    expect(v.decidedBy).toBe('reject_rbl_client hostkarma.junkemailfilter.com=');
  });

  it('127.0.0.5 (NOBL) is never a whitelisting, even under the seed filter 127.0.0.[1;5] or a bare =', async () => {
    // A port that, like the real client's hostkarma profile, counts 127.0.0.5 for no use; a port
    // that ignores `use` (older ones) is what the seed's own filter would have whitelisted.
    for (const honoursUse of [true, false]) {
      const asked: Array<string | undefined> = [];
      const { engine } = setup({ list: seedDns });
      const hk = createEngine(engine.spec, {
        ...portsOf(),
        dnslist: {
          lookup: async (qs) =>
            qs.map((q) => {
              if (q.zone !== 'hostkarma.junkemailfilter.com' || q.key !== NOBL) return { zone: q.zone, key: q.key, status: 'not-listed', codes: [] };
              asked.push(q.use);
              return honoursUse ? { zone: q.zone, key: q.key, status: 'not-listed', codes: [], detail: '127.0.0.5 (NOBL): not a listing' } : { zone: q.zone, key: q.key, status: 'listed', codes: ['127.0.0.5'] };
            }),
        },
      });
      const v = await hk.evaluate(facts({ clientAddress: NOBL }));
      expect(asked).toEqual(['allow', 'block']);
      if (honoursUse) {
        expect(v.action).toBe('defer');
        expect(v.greylisted).toBe(true);
        for (const t of v.trace.filter((e) => e.restriction.startsWith('permit_dnswl_client hostkarma'))) expect(t.outcome).toBe('dunno');
      } else expect(v.decidedBy).toBe('permit_dnswl_client hostkarma.junkemailfilter.com=127.0.0.[1;5]');
    }
  });
});
