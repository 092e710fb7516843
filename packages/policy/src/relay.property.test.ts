// Property: whatever the spam policy says (any restrictions, every DNS list listing the client, an
// access map answering OK for everyone), a stranger never gets mail to a foreign domain accepted.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCidrAccessMap, parseCidrTable } from './cidr-map.ts';
import { DEFAULT_RELAY_RESTRICTIONS } from './defaults.ts';
import { createEngine } from './engine.ts';
import { createManualClock, createMemoryGreylist, createMemoryMailDomains } from './memory-ports.ts';
import { formatRestriction, makeRestriction, parseRestrictions, RESTRICTION_NAMES, restrictionTakesArgument } from './parse.ts';
import { createStaticRecipients } from './recipients.ts';
import { parseDnsblSites } from './dnsbl-sites.ts';
import type { DnsListAnswer, DnsListPort, Restriction } from './types.ts';

const ZONES = ['list.dnswl.org', 'zen.spamhaus.org', 'wl.example'];
const restriction: fc.Arbitrary<Restriction> = fc.constantFrom(...RESTRICTION_NAMES).chain((name) => {
  if (!restrictionTakesArgument(name)) return fc.constant(makeRestriction(name, undefined));
  if (name.endsWith('_access')) return fc.constant(makeRestriction(name, 'cidr:/all'));
  if (name === 'check_policy_service') return fc.constant(makeRestriction(name, 'inet:127.0.0.1:10023'));
  return fc.tuple(fc.constantFrom(...ZONES), fc.constantFrom(undefined, '', '127.0.0.[0..255]', '127.0.0.2')).map(([z, f]) => makeRestriction(name, f === undefined ? z : `${z}=${f}`));
});

/** Weighted lists that put everyone under the allowlist threshold (permit_dnsbl_score would permit). */
const WEIGHTED = { dnsblSites: parseDnsblSites('list.dnswl.org*-5 zen.spamhaus.org*2'), dnsblAllowlistThreshold: -1 };

/** Every zone lists everyone with every code. */
const everythingListed: DnsListPort = {
  lookup: (qs) => Promise.resolve(qs.map((q): DnsListAnswer => ({ zone: q.zone, key: q.key, status: 'listed', codes: ['127.0.0.2'] }))),
};

const foreign = fc.oneof(
  fc.constantFrom('victim@remote.example', 'VICTIM@Remote.Example.', 'a@sub.example.org'),
  fc.constantFrom('v%remote.example@example.org', '@example.org:v@remote.example', 'remote.example!v@example.org', '"v@remote.example"@example.org', 'v@[192.0.2.1]', 'remote!v', 'v@[IPv6:2001:db8::1]'),
);

describe('relay safety, as a property', () => {
  it('no spam policy lets a stranger relay', async () => {
    const clock = createManualClock();
    const ports = {
      dnslist: everythingListed,
      greylist: createMemoryGreylist({ clock, whitelist: ['198.51.100.7'] }),
      recipients: createStaticRecipients({ domains: ['example.org'], users: ['alice@example.org'] }),
      accessMaps: createCidrAccessMap({ 'cidr:/all': parseCidrTable('0.0.0.0/0 OK\n::/0 OK') }),
      mailDomains: createMemoryMailDomains({}),
      clock,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(restriction, { maxLength: 12 }),
        fc.constantFrom<readonly Restriction[]>(DEFAULT_RELAY_RESTRICTIONS, [], parseRestrictions('dunno'), parseRestrictions('permit_dnswl_client list.dnswl.org')),
        foreign,
        fc.boolean(),
        async (spam, relay, rcpt, delayReject) => {
          const engine = createEngine({ myHostname: 'mx.example.org', myAddresses: [], myNetworks: ['127.0.0.0/8'], delayReject, strictRfc821Envelopes: false, relayRestrictions: relay, recipientRestrictions: spam, ...WEIGHTED }, ports);
          const v = await engine.evaluate({ stage: 'rcpt', clientAddress: '198.51.100.7', helo: 'mail.sender.example', sender: 'a@sender.example', recipient: rcpt, tls: false });
          expect(v.action, `${spam.map(formatRestriction).join(', ')} | ${rcpt}`).not.toBe('permit');
          expect(v.action).not.toBe('continue');
        },
      ),
      { numRuns: 400 },
    );
  });
});
