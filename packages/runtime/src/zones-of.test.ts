import { parseDnsblSites, parseRestrictions, type PolicySpec } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { zonesOf } from './build-engine.ts';

const spec = (list: string): PolicySpec => ({
  myHostname: 'mx.example.org',
  myAddresses: [],
  myNetworks: [],
  delayReject: true,
  strictRfc821Envelopes: false,
  relayRestrictions: parseRestrictions('permit_mynetworks, reject_unauth_destination'),
  recipientRestrictions: parseRestrictions(list),
  dnsblSites: parseDnsblSites('zen.example*3 bl.example list.dnswl.example*-2'),
});

describe('zonesOf: what the DNS-list client health-checks', () => {
  it('adds the weighted sites only where a list sums them', () => {
    expect(zonesOf(spec('reject_rbl_client zen.example, permit'))).toEqual(['zen.example']);
    expect(zonesOf(spec('reject_rbl_client zen.example, reject_dnsbl_score, permit'))).toEqual(['zen.example', 'bl.example', 'list.dnswl.example']);
  });
});
