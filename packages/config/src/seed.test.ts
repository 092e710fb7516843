// The seed's whole decision list, as moat ships it, against scripted DNS answers: its four outcomes.
import { createEngine, createManualClock, createMemoryDnsList, createMemoryGreylist, type DnsScript, type Facts, formatRestriction, type GreylistPort, parseRestrictions, replyLine } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compileConfig } from './compile.ts';
import { parseConfig } from './load.ts';

/** The seed's smtpd_recipient_restrictions block, verbatim from its main.cf. */
const SEED_BLOCK = `smtpd_recipient_restrictions =
 check_client_access cidr:/etc/postfix/rbl_override,
 permit_dnswl_client iadb.isipp.com=,
 permit_dnswl_client sa-trusted.bondedsender.org,
 permit_dnswl_client sa-accredit.habeas.com,
 permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3],
 permit_dnswl_client hostkarma.junkemailfilter.com=127.0.0.[1;5],
 reject_rhsbl_reverse_client dbl.spamhaus.org,
 reject_rhsbl_sender dbl.spamhaus.org,
 reject_rhsbl_client dbl.spamhaus.org,
 reject_rbl_client zen.spamhaus.org,
 reject_rbl_client dnsbl-1.uceprotect.net,
 reject_rbl_client psbl.surriel.com,
 reject_rbl_client hostkarma.junkemailfilter.com=,
 reject_rbl_client bl.mailspike.net,
 reject_rbl_client b.barracudacentral.org,
 reject_rbl_client truncate.gbudb.net,
 permit_dnswl_client iadb.isipp.com=127.0.2.[1;2],
 permit_dnswl_client iadb.isipp.com=127.3.100.[5..100],
 permit_dnswl_client wl.mailspike.net,
 permit_dnswl_client list.dnswl.org,
 permit_dnswl_client hostkarma.junkemailfilter.com=,
 check_policy_service inet:,
`;

/** The same list as structured YAML, in the three item forms the schema accepts. */
const SEED_YAML = `
- check_client_access cidr:/etc/postfix/rbl_override
- permit_dnswl_client: iadb.isipp.com=
- permit_dnswl_client: sa-trusted.bondedsender.org
- { type: permit_dnswl_client, zone: sa-accredit.habeas.com }
- { type: permit_dnswl_client, zone: list.dnswl.org, filter: "127.0.[0..255].[2..3]" }
- permit_dnswl_client: hostkarma.junkemailfilter.com=127.0.0.[1;5]
- reject_rhsbl_reverse_client dbl.spamhaus.org
- reject_rhsbl_sender dbl.spamhaus.org
- reject_rhsbl_client dbl.spamhaus.org
- reject_rbl_client zen.spamhaus.org
- reject_rbl_client dnsbl-1.uceprotect.net
- reject_rbl_client psbl.surriel.com
- { type: reject_rbl_client, zone: hostkarma.junkemailfilter.com, filter: "" }
- reject_rbl_client bl.mailspike.net
- reject_rbl_client b.barracudacentral.org
- reject_rbl_client truncate.gbudb.net
- permit_dnswl_client: iadb.isipp.com=127.0.2.[1;2]
- permit_dnswl_client: iadb.isipp.com=127.3.100.[5..100]
- permit_dnswl_client wl.mailspike.net
- permit_dnswl_client list.dnswl.org
- permit_dnswl_client: hostkarma.junkemailfilter.com=
- check_policy_service: "inet:"
`;

const indent = (s: string, n: number) =>
  s
    .split('\n')
    .map((l) => (l ? ' '.repeat(n) + l : l))
    .join('\n');

function configWith(list: string | undefined) {
  const text = `policy:
  hostname: mx.example.org
  mynetworks: [127.0.0.0/8, 10.9.0.0/16]
${list === undefined ? '' : `  recipient_restrictions: ${list}\n`}  access_maps:
    cidr:/etc/postfix/rbl_override: "203.0.113.0/24 OK"
recipients:
  domains: [example.org]
  users: [alice@example.org]
`;
  return parseConfig(text, { env: {} });
}

describe("the seed's list", () => {
  it('parses as pasted Postfix text and as structured YAML, to the same list', () => {
    const fromText = configWith(`|\n${indent(SEED_BLOCK, 4)}`).policy.recipient_restrictions;
    const fromYaml = configWith(`\n${indent(SEED_YAML, 4)}`).policy.recipient_restrictions;
    expect(fromText).toHaveLength(22);
    expect(fromYaml).toEqual(fromText);
    expect(fromText).toEqual(parseRestrictions(SEED_BLOCK));
    expect(parseYaml(SEED_YAML)).toHaveLength(22);
  });

  it('the shipped default is the seed in its order: steps 1-6, its DNS lists verbatim, greylist, permit; no SORBS', () => {
    const list = configWith(undefined).policy.recipient_restrictions.map(formatRestriction);
    const seedItems = SEED_BLOCK.split('\n')
      .slice(1)
      .map((l) => l.trim().replace(/,$/, ''))
      .filter(Boolean);
    expect(list.slice(0, 7)).toEqual([
      'reject_missing_helo',
      'reject_invalid_helo_hostname',
      'reject_non_fqdn_helo_hostname',
      'reject_non_fqdn_sender',
      'reject_unlisted_recipient',
      'permit_mynetworks',
      'permit_sasl_authenticated',
    ]);
    // the seed's DNS lists, verbatim and in order (its check_client_access is opt-in, its policy service is ours)
    expect(list.slice(7, 27)).toEqual(seedItems.slice(1, 21));
    expect(list.slice(27)).toEqual(['check_policy_service moat:greylist', 'permit']);
    expect(list.join(' ')).not.toMatch(/sorbs/i);
  });
});

describe("the shipped default against the seed's four outcomes", () => {
  const TRUSTED = '192.0.2.10'; // on list.dnswl.org (127.0.10.2) AND on zen: step 7 wins
  const BLACK = '192.0.2.20'; // on zen
  const VERIFIED = '192.0.2.30'; // on wl.mailspike.net only (step 9)
  const OTHER = '192.0.2.40'; // on nothing
  const KARMA_WHITE = '192.0.2.50'; // hostkarma 127.0.0.1 (white): step 7
  const KARMA_BLACK = '192.0.2.51'; // hostkarma 127.0.0.2 (black): step 8, via `hostkarma=`
  const script: DnsScript = {
    'list.dnswl.org': { [TRUSTED]: { codes: ['127.0.10.2'] } },
    'zen.spamhaus.org': { [TRUSTED]: { codes: ['127.0.0.2'] }, [BLACK]: { codes: ['127.0.0.4'], txt: 'https://www.spamhaus.org/query/ip/192.0.2.20' }, [OTHER]: 'unknown' },
    'wl.mailspike.net': { [VERIFIED]: { codes: ['127.0.0.18'] } },
    'hostkarma.junkemailfilter.com': { [KARMA_WHITE]: { codes: ['127.0.0.1'] }, [KARMA_BLACK]: { codes: ['127.0.0.2'] } },
  };

  function build() {
    const config = configWith(undefined);
    const compiled = compileConfig(config);
    const clock = createManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
    const dnslist = createMemoryDnsList(script);
    const inner = createMemoryGreylist({ clock, delay: config.greylist.delay / 1000 });
    const greylisted: string[] = [];
    const greylist: GreylistPort = {
      check: (r) => {
        greylisted.push(r.clientAddress);
        return inner.check(r);
      },
    };
    const engine = createEngine(compiled.spec, { dnslist, greylist, recipients: compiled.recipients, accessMaps: compiled.accessMaps, clock });
    return { engine, dnslist, greylisted, clock };
  }
  const facts = (clientAddress: string, f: Partial<Facts> = {}): Facts => ({
    stage: 'rcpt',
    clientAddress,
    clientName: 'mta.sender.example',
    reverseClientName: 'mta.sender.example',
    helo: 'mta.sender.example',
    sender: 'news@sender.example',
    rawSender: '<news@sender.example>',
    recipient: 'alice@example.org',
    rawRecipient: '<alice@example.org>',
    tls: true,
    ...f,
  });

  it('1. a verified quality sender is accepted, even though a blacklist lists it', async () => {
    const { engine, dnslist, greylisted } = build();
    const v = await engine.evaluate(facts(TRUSTED));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit_dnswl_client list.dnswl.org=127.0.[0..255].[2..3]');
    expect(greylisted).toEqual([]);
    expect(dnslist.lookups).toBe(1); // every list of the policy in one concurrent lookup
    // 12 distinct zones on the IP (iadb, dnswl and hostkarma recur), hostkarma once more because it
    // is used to permit and to reject (its codes mean different things for the two) + dbl on the
    // sender domain and on the client name (its verified and reverse names are the same: asked once)
    expect(dnslist.last.length).toBe(15);
  });

  it('2. a blacklisted client is denied, with the list and its reason', async () => {
    const { engine, greylisted } = build();
    const v = await engine.evaluate(facts(BLACK));
    expect(replyLine(v)).toBe('554 5.7.1 Service unavailable; Client host [192.0.2.20] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.20');
    expect(greylisted).toEqual([]);
    const k = await engine.evaluate(facts(KARMA_BLACK));
    expect(k.decidedBy).toBe('reject_rbl_client hostkarma.junkemailfilter.com=');
    const w = await engine.evaluate(facts(KARMA_WHITE));
    expect(w.decidedBy).toBe('permit_dnswl_client hostkarma.junkemailfilter.com=127.0.0.[1;5]');
  });

  it('3. a verified SMTP server (second whitelist set) skips greylisting', async () => {
    const { engine, greylisted } = build();
    const v = await engine.evaluate(facts(VERIFIED));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit_dnswl_client wl.mailspike.net');
    expect(greylisted).toEqual([]);
  });

  it('4. everything else is greylisted, then accepted on retry after the delay', async () => {
    const { engine, greylisted, clock } = build();
    let v = await engine.evaluate(facts(OTHER));
    expect(v.action).toBe('defer');
    expect(v.greylisted).toBe(true);
    expect(replyLine(v)).toMatch(/^450 4\.7\.1 <alice@example\.org>: Recipient address rejected: Greylisted, please try again in 60 seconds/);
    // zen timed out for this client: noted, treated as not listed
    expect(v.trace.find((t) => t.restriction === 'reject_rbl_client zen.spamhaus.org')?.reason).toMatch(/unknown/);
    clock.advance(61_000);
    v = await engine.evaluate(facts(OTHER));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit');
    expect(v.prepend[0]).toMatch(/^X-Greylist: delayed 61 seconds/);
    expect(greylisted).toEqual([OTHER, OTHER]);
  });

  it('steps 1-6 come before any DNS list: bad HELO, unknown user, our networks, SASL users', async () => {
    const { engine, dnslist } = build();
    expect((await engine.evaluate(facts(BLACK, { helo: undefined }))).text).toBe('Error: send HELO/EHLO first');
    expect((await engine.evaluate(facts(BLACK, { helo: 'localhost' }))).text).toBe('<localhost>: Helo command rejected: need fully-qualified hostname');
    expect((await engine.evaluate(facts(BLACK, { sender: 'x@local', rawSender: '<x@local>' }))).text).toBe('<x@local>: Sender address rejected: need fully-qualified address');
    expect((await engine.evaluate(facts(BLACK, { recipient: 'nobody@example.org', rawRecipient: '<nobody@example.org>' }))).status).toBe('5.1.1');
    expect((await engine.evaluate(facts('10.9.1.1'))).decidedBy).toBe('permit_mynetworks');
    expect((await engine.evaluate(facts(BLACK, { saslUsername: 'alice' }))).decidedBy).toBe('permit_sasl_authenticated');
    expect(dnslist.lookups).toBe(0);
  });
});
