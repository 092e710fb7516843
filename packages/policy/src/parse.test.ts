import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyError } from './errors.ts';
import { formatRestriction, formatRestrictions, makeRestriction, parseRestrictions, RESTRICTION_NAMES, restrictionTakesArgument } from './parse.ts';
import type { Restriction } from './types.ts';

/** The seed's block, exactly as in its main.cf (../shared/seed/000_7e432e62e8f29169.txt). */
export const SEED_BLOCK = `smtpd_recipient_restrictions =
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

function errorOf(f: () => unknown): PolicyError {
  try {
    f();
  } catch (e) {
    if (e instanceof PolicyError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

describe('parseRestrictions', () => {
  it("parses the seed's whole block unchanged", () => {
    const list = parseRestrictions(SEED_BLOCK);
    expect(list).toHaveLength(22);
    expect(list[0]).toEqual({ type: 'check_client_access', map: 'cidr:/etc/postfix/rbl_override' });
    expect(list[1]).toEqual({ type: 'permit_dnswl_client', zone: 'iadb.isipp.com', filter: '' });
    expect(list[2]).toEqual({ type: 'permit_dnswl_client', zone: 'sa-trusted.bondedsender.org', filter: undefined });
    expect(list[4]).toEqual({ type: 'permit_dnswl_client', zone: 'list.dnswl.org', filter: '127.0.[0..255].[2..3]' });
    expect(list[5]).toEqual({ type: 'permit_dnswl_client', zone: 'hostkarma.junkemailfilter.com', filter: '127.0.0.[1;5]' });
    expect(list[6]).toEqual({ type: 'reject_rhsbl_reverse_client', zone: 'dbl.spamhaus.org', filter: undefined });
    expect(list[7]?.type).toBe('reject_rhsbl_sender');
    expect(list[8]?.type).toBe('reject_rhsbl_client');
    expect(list[12]).toEqual({ type: 'reject_rbl_client', zone: 'hostkarma.junkemailfilter.com', filter: '' });
    expect(list[21]).toEqual({ type: 'check_policy_service', service: 'inet:' });
    // and formatting gives back the admin's text, item by item
    const items = SEED_BLOCK.split('\n')
      .slice(1)
      .map((l) => l.trim().replace(/,$/, ''))
      .filter(Boolean);
    expect(list.map(formatRestriction)).toEqual(items);
  });

  it('accepts commas and/or whitespace, continuation lines, comments, and param= headers', () => {
    const a = parseRestrictions('permit_mynetworks,permit_sasl_authenticated,reject_unauth_destination');
    const b = parseRestrictions('permit_mynetworks permit_sasl_authenticated\n   reject_unauth_destination');
    const c = parseRestrictions('smtpd_relay_restrictions = permit_mynetworks,\n # a comment\n  permit_sasl_authenticated, ,reject_unauth_destination,');
    const d = parseRestrictions('smtpd_relay_restrictions=permit_mynetworks permit_sasl_authenticated reject_unauth_destination');
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(d).toEqual(a);
    expect(parseRestrictions('')).toEqual([]);
  });

  it('normalises old Postfix names and case', () => {
    expect(parseRestrictions('reject_invalid_hostname REJECT_NON_FQDN_HOSTNAME')).toEqual([
      { type: 'reject_invalid_helo_hostname' },
      { type: 'reject_non_fqdn_helo_hostname' },
    ]);
  });

  it('round-trips: parse(format(list)) == list', () => {
    const list = parseRestrictions(SEED_BLOCK);
    expect(parseRestrictions(formatRestrictions(list))).toEqual(list);
  });

  it('names an unknown restriction and its position', () => {
    const e = errorOf(() => parseRestrictions('permit_mynetworks,\n  reject_rbl_clinet zen.spamhaus.org'));
    expect(e.code).toBe('POLICY_UNKNOWN_RESTRICTION');
    expect(e.item).toBe('reject_rbl_clinet');
    expect(e.position).toEqual({ index: 2, line: 2, column: 3 });
    expect(e.message).toContain('item 2, line 2:3');
  });

  it('names a missing argument, at the end or before the next restriction', () => {
    let e = errorOf(() => parseRestrictions('permit_mynetworks, reject_rbl_client'));
    expect(e.code).toBe('POLICY_MISSING_ARGUMENT');
    expect(e.item).toBe('reject_rbl_client');
    expect(e.position.index).toBe(2);
    e = errorOf(() => parseRestrictions('check_client_access, permit'));
    expect(e.code).toBe('POLICY_MISSING_ARGUMENT');
    expect(e.item).toBe('check_client_access');
    e = errorOf(() => parseRestrictions('check_policy_service'));
    expect(e.code).toBe('POLICY_MISSING_ARGUMENT');
  });

  it('names a malformed return-code pattern with its restriction', () => {
    const e = errorOf(() => parseRestrictions('permit_mynetworks\n reject_rbl_client zen.spamhaus.org=127.0.0.[2..'));
    expect(e.code).toBe('POLICY_BAD_CODE_FILTER');
    expect(e.item).toBe('reject_rbl_client zen.spamhaus.org=127.0.0.[2..');
    expect(e.position).toEqual({ index: 2, line: 2, column: 2 });
  });

  it('refuses bad zones, maps, services and arguments to argument-less restrictions', () => {
    expect(errorOf(() => parseRestrictions('reject_rbl_client not_a..zone')).code).toBe('POLICY_BAD_ARGUMENT');
    expect(errorOf(() => parseRestrictions('check_client_access /etc/postfix/x')).code).toBe('POLICY_BAD_ARGUMENT');
    expect(errorOf(() => parseRestrictions('check_policy_service 127.0.0.1')).code).toBe('POLICY_BAD_ARGUMENT');
    expect(errorOf(() => makeRestriction('permit', 'x')).code).toBe('POLICY_BAD_ARGUMENT');
    // A token that is not a restriction where a name is expected is an unknown restriction.
    expect(errorOf(() => parseRestrictions('permit_mynetworks zen.spamhaus.org')).code).toBe('POLICY_UNKNOWN_RESTRICTION');
  });
});

describe('parseRestrictions properties', () => {
  const octet = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map(String),
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `[${Math.min(a, b)}..${Math.max(a, b)}]`),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }).map((xs) => `[${xs.join(';')}]`),
  );
  const filter = fc.oneof(fc.constant(undefined), fc.constant(''), fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')));
  const zone = fc.constantFrom('zen.spamhaus.org', 'list.dnswl.org', 'b.barracudacentral.org', 'dnsbl-1.uceprotect.net');
  const restriction: fc.Arbitrary<Restriction> = fc.constantFrom(...RESTRICTION_NAMES).chain((name) => {
    if (!restrictionTakesArgument(name)) return fc.constant(makeRestriction(name, undefined));
    if (name.endsWith('_access')) return fc.constantFrom('cidr:/etc/postfix/rbl_override', 'cidr:/x', 'hash:/etc/postfix/access').map((m) => makeRestriction(name, m));
    if (name === 'check_policy_service') return fc.constantFrom('inet:', 'inet:127.0.0.1:10023', 'unix:private/policy').map((s) => makeRestriction(name, s));
    return fc.tuple(zone, filter).map(([z, f]) => makeRestriction(name, f === undefined ? z : `${z}=${f}`));
  });
  const separator = fc.constantFrom(', ', ',', ' ', '\n  ', ',\n ', ' ,\t');

  it('any list, written with any Postfix separators, parses back to itself', () => {
    fc.assert(
      fc.property(fc.array(restriction, { maxLength: 25 }), separator, (list, sep) => {
        expect(parseRestrictions(list.map(formatRestriction).join(sep))).toEqual(list);
      }),
      { numRuns: 1000 },
    );
  });

  it('a misspelt name is reported at its index, whatever precedes it', () => {
    fc.assert(
      fc.property(fc.array(restriction, { maxLength: 10 }), (list) => {
        try {
          parseRestrictions(`${list.map(formatRestriction).join(', ')}, reject_rbl_clinet zen.spamhaus.org`);
          expect.unreachable();
        } catch (e) {
          expect(e).toBeInstanceOf(PolicyError);
          expect((e as PolicyError).item).toBe('reject_rbl_clinet');
          expect((e as PolicyError).position.index).toBe(list.length + 1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
