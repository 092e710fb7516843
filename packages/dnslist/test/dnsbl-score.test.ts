// Weighted DNS lists (postscreen_dnsbl_sites) through the real engine, the real client, rbldnsd and Unbound:
// two block lists add, an allow list subtracts, and the list profiles still decide which answers count.
import { createEngine, createManualClock, createMemoryGreylist, createStaticRecipients, type DnsListQuery, type Facts, parseDnsblSites, parseRestrictions, replyLine } from '@moat/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsList } from '../src/index.ts';
import { type ListStack, startListStack } from './list-stack.ts';

let stack: ListStack;
let dns: DnsList;

beforeAll(async () => {
  stack = await startListStack(
    {
      // 192.0.2.50: on both block lists; 192.0.2.51: on both and on the allow list; 192.0.2.52: ZEN only;
      // 192.0.2.53: a Spamhaus error answer (never a hit) plus the second list
      'zen.moat.test': {
        profile: 'spamhaus-zen',
        data: ':127.0.0.2:Listed in ZEN: $\n127.0.0.2\n192.0.2.50 :127.0.0.4:XBL $\n192.0.2.51 :127.0.0.4:XBL $\n192.0.2.52 :127.0.0.3:CSS $\n192.0.2.53 :127.255.255.254:public resolver\n',
      },
      'bl.moat.test': { profile: 'generic', data: ':127.0.0.2:Listed $\n127.0.0.2\n192.0.2.50\n192.0.2.51\n192.0.2.53\n' },
      'dnswl.moat.test': { profile: 'dnswl', data: '127.0.0.2 :127.0.10.0:test\n192.0.2.51 :127.0.15.2:trusted\n' },
    },
    'dnsbl-score-test',
  );
  dns = stack.dns;
});

afterAll(async () => {
  await stack?.stop();
});

const SITES = 'zen.moat.test=127.0.0.[2..11]*3, bl.moat.test*2, dnswl.moat.test=127.0.[0..255].[1..3]*-6';

function engine(list: string, asked: DnsListQuery[][] = []) {
  const clock = createManualClock();
  return createEngine(
    {
      myHostname: 'mx.moat.test',
      myAddresses: [],
      myNetworks: ['127.0.0.0/8'],
      delayReject: true,
      strictRfc821Envelopes: false,
      relayRestrictions: parseRestrictions('permit_auth_destination, reject_unauth_destination'),
      recipientRestrictions: parseRestrictions(list),
      dnsblSites: parseDnsblSites(SITES),
      dnsblThreshold: 4,
      dnsblAllowlistThreshold: -1,
    },
    {
      dnslist: {
        lookup(q) {
          asked.push([...q]);
          return dns.lookup(q);
        },
      },
      greylist: createMemoryGreylist({ clock }),
      recipients: createStaticRecipients({ domains: ['moat.test'], users: ['user@moat.test'] }),
      accessMaps: { lookup: async () => undefined },
      clock,
    },
  );
}

const facts = (clientAddress: string): Facts => ({ stage: 'rcpt', clientAddress, helo: 'mail.sender.example', sender: 'a@sender.example', recipient: 'user@moat.test', tls: false });
const reasonOf = (v: { trace: Array<{ restriction: string; reason?: string | undefined }> }, r: string) => v.trace.find((t) => t.restriction === r)?.reason;

describe('weighted DNS lists with real rbldnsd and Unbound', () => {
  it('two block lists add up to the threshold: 554, naming both, with each part in the trace', async () => {
    const v = await engine('permit_dnsbl_score, reject_dnsbl_score, permit').evaluate(facts('192.0.2.50'));
    expect(replyLine(v)).toBe('554 5.7.1 Service unavailable; Client host [192.0.2.50] blocked using zen.moat.test, bl.moat.test (DNSBL score 5)');
    expect(reasonOf(v, 'reject_dnsbl_score')).toBe('score 5: zen.moat.test=127.0.0.[2..11]*3 127.0.0.4 +3, bl.moat.test*2 127.0.0.2 +2 (threshold 4)');
  });

  it('the allow list pulls the same client under the allowlist threshold: permit_dnsbl_score permits', async () => {
    const v = await engine('permit_dnsbl_score, reject_dnsbl_score, reject').evaluate(facts('192.0.2.51'));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toBe('permit_dnsbl_score');
    expect(reasonOf(v, 'permit_dnsbl_score')).toBe('score -1: zen.moat.test=127.0.0.[2..11]*3 127.0.0.4 +3, bl.moat.test*2 127.0.0.2 +2, dnswl.moat.test=127.0.[0..255].[1..3]*-6 127.0.15.2 -6 (allowlist threshold -1)');
  });

  it('one list alone stays under the threshold; a Spamhaus error answer never counts, whatever the site filter', async () => {
    const one = await engine('reject_dnsbl_score, permit').evaluate(facts('192.0.2.52'));
    expect(one.action).toBe('permit');
    expect(reasonOf(one, 'reject_dnsbl_score')).toBe('score 3: zen.moat.test=127.0.0.[2..11]*3 127.0.0.3 +3 (threshold 4)');
    const err = await engine('reject_dnsbl_score, permit').evaluate(facts('192.0.2.53'));
    expect(reasonOf(err, 'reject_dnsbl_score')).toBe('score 2: bl.moat.test*2 127.0.0.2 +2 (threshold 4)');
  });

  it('beside a first-hit list on the same zone: one batch, each (zone, use) asked once', async () => {
    const asked: DnsListQuery[][] = [];
    const v = await engine('reject_rbl_client zen.moat.test=127.0.0.2, reject_dnsbl_score, permit', asked).evaluate(facts('192.0.2.50'));
    expect(v.decidedBy).toBe('reject_dnsbl_score');
    expect(asked).toHaveLength(1);
    expect(asked[0]!.map((q) => `${q.zone}/${q.use}`)).toEqual(['zen.moat.test/block', 'bl.moat.test/block', 'dnswl.moat.test/allow']);
  });
});
