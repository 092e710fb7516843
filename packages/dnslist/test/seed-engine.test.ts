// The seed's DNS-list steps through the real engine (@moat/policy) and the real client, rbldnsd and Unbound:
// the provider profiles must hold even where the seed's own filters are looser.
import { createEngine, createManualClock, createMemoryGreylist, createStaticRecipients, type Facts, parseRestrictions } from '@moat/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsList } from '../src/index.ts';
import { type ListStack, startListStack } from './list-stack.ts';

let stack: ListStack;
let dns: DnsList;

// The seed's steps 7-9 with the lists renamed under moat.test.
const seed = `
 permit_dnswl_client dnswl.moat.test=127.0.[0..255].[2..3],
 permit_dnswl_client hk.moat.test=127.0.0.[1;5],
 reject_rhsbl_sender dbl.moat.test,
 reject_rbl_client zen.moat.test,
 reject_rbl_client hk.moat.test=,
 permit_dnswl_client dnswl.moat.test,
 permit
`;

beforeAll(async () => {
  stack = await startListStack(
    {
      'zen.moat.test': {
        profile: 'spamhaus-zen',
        data: ':127.0.0.2:Listed in ZEN: $\n127.0.0.2\n192.0.2.21 :127.0.0.4:XBL $\n192.0.2.31 :127.0.0.2:SBL $\n192.0.2.40 :127.255.255.254:public resolver\n',
      },
      'dnswl.moat.test': { profile: 'dnswl', data: '127.0.0.2 :127.0.10.0:test\n192.0.2.20 :127.0.15.3:trusted\n192.0.2.21 :127.0.10.3:return high\n' },
      'hk.moat.test': {
        profile: 'hostkarma',
        data: '127.0.0.1 :127.0.0.1:white\n127.0.0.2 :127.0.0.2:black\n192.0.2.30 :127.0.0.1:white\n192.0.2.31 :127.0.0.5:NOBL\n192.0.2.32 :127.0.0.5:NOBL\n192.0.2.33 :127.0.0.2:black\n',
      },
      'dbl.moat.test': { profile: 'spamhaus-dbl', data: { type: 'dnset', data: ':127.0.1.2:Domain $ listed in DBL\ntest\nspam.example\n' } },
    },
    'seed-engine-test',
  );
  dns = stack.dns;
});

afterAll(async () => {
  await stack?.stop();
});

function engine(list = seed) {
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
    },
    {
      dnslist: dns,
      greylist: createMemoryGreylist({ clock }),
      // user@moat.test exists: the implicit smtpd_reject_unlisted_recipient would refuse an unknown user
      recipients: createStaticRecipients({ domains: ['moat.test'], users: ['user@moat.test'] }),
      accessMaps: { lookup: async () => undefined },
      clock,
    },
  );
}

const facts = (clientAddress: string, sender = 'a@sender.example'): Facts => ({
  stage: 'rcpt',
  clientAddress,
  helo: 'mail.sender.example',
  sender,
  recipient: 'user@moat.test',
  tls: false,
});

describe('the seed through the engine with real DNS lists', () => {
  it('dnswl 127.0.10.3 does not whitelist a client the seed filter would have let through; ZEN rejects it with its TXT', async () => {
    const v = await engine().evaluate(facts('192.0.2.21'));
    expect(v.action).toBe('reject');
    expect(v.decidedBy).toContain('zen.moat.test');
    expect(v.text).toContain('XBL 192.0.2.21');
  });

  it('a real dnswl listing still permits', async () => {
    const v = await engine().evaluate(facts('192.0.2.20'));
    expect(v.action).toBe('permit');
    expect(v.decidedBy).toContain('dnswl.moat.test');
  });

  it('hostkarma NOBL (127.0.0.5) is not a whitelisting: the SBL listing rejects', async () => {
    const v = await engine().evaluate(facts('192.0.2.31'));
    expect(v.action).toBe('reject');
    expect(v.decidedBy).toContain('zen.moat.test');
  });

  it('hostkarma whitelist permits; Spamhaus error answers never reject', async () => {
    expect((await engine().evaluate(facts('192.0.2.30'))).action).toBe('permit');
    const v = await engine().evaluate(facts('192.0.2.40'));
    expect(v.action).not.toBe('reject');
  });

  it('hostkarma whitelist (127.0.0.1) is no blacklisting: `reject_rbl_client hk=` does not reject it even with no earlier permit', async () => {
    const noEarlyPermit = seed.replace('permit_dnswl_client hk.moat.test=127.0.0.[1;5],', '');
    const v = await engine(noEarlyPermit).evaluate(facts('192.0.2.30'));
    expect(v.trace.find((t) => t.restriction === 'reject_rbl_client hk.moat.test=')?.outcome).toBe('dunno');
    expect(v.action).toBe('permit'); // the seed's final `permit` (no greylist in this list)
    const onlyReject = await engine('reject_rbl_client hk.moat.test=, check_policy_service inet:, permit').evaluate(facts('192.0.2.30'));
    expect(onlyReject.action).toBe('defer');
    expect(onlyReject.greylisted).toBe(true);
    // the blacklist code still rejects through the same zone
    const black = await engine(noEarlyPermit).evaluate(facts('192.0.2.33'));
    expect(black.decidedBy).toBe('reject_rbl_client hk.moat.test=');
  });

  it('hostkarma 127.0.0.5 (NOBL) is never a whitelisting, under the seed filter or a bare `=`', async () => {
    for (const list of [seed, 'permit_dnswl_client hk.moat.test=, check_policy_service inet:, permit', 'permit_dnswl_client hk.moat.test, check_policy_service inet:, permit']) {
      const v = await engine(list).evaluate(facts('192.0.2.32'));
      expect(v.decidedByType, list).not.toBe('permit_dnswl_client');
      expect(v.trace.filter((t) => t.restriction.startsWith('permit_dnswl_client hk.')).every((t) => t.outcome === 'dunno')).toBe(true);
    }
  });

  it('RHSBL on the sender domain', async () => {
    const v = await engine().evaluate(facts('192.0.2.50', 'someone@spam.example'));
    expect(v.action).toBe('reject');
    expect(v.decidedBy).toContain('dbl.moat.test');
    expect(v.text).toContain('Domain spam.example listed in DBL');
  });
});
