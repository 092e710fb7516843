import { describe, expect, it } from 'vitest';
import { formatDnsblSite, parseDnsblSite, parseDnsblSites } from './dnsbl-sites.ts';
import { PolicyError } from './errors.ts';

describe('postscreen_dnsbl_sites (Postfix postconf(5) syntax)', () => {
  it("reads postconf(5)'s example: weights, allow lists, filters with ranges, commas and newlines", () => {
    const text = `zen.spamhaus.org*3
    b.barracudacentral.org*2
    bl.spameatingmonkey.net*2
    bl.spamcop.net
    dnsbl.sorbs.net
    swl.spamhaus.org*-4,
    list.dnswl.org=127.[0..255].[0..255].0*-2,
    list.dnswl.org=127.[0..255].[0..255].1*-4,
    list.dnswl.org=127.[0..255].[0..255].[2..3]*-6`;
    expect(parseDnsblSites(text)).toEqual([
      { zone: 'zen.spamhaus.org', weight: 3 },
      { zone: 'b.barracudacentral.org', weight: 2 },
      { zone: 'bl.spameatingmonkey.net', weight: 2 },
      { zone: 'bl.spamcop.net', weight: 1 },
      { zone: 'dnsbl.sorbs.net', weight: 1 },
      { zone: 'swl.spamhaus.org', weight: -4 },
      { zone: 'list.dnswl.org', filter: '127.[0..255].[0..255].0', weight: -2 },
      { zone: 'list.dnswl.org', filter: '127.[0..255].[0..255].1', weight: -4 },
      { zone: 'list.dnswl.org', filter: '127.[0..255].[0..255].[2..3]', weight: -6 },
    ]);
  });
  it('reads the issue\'s forms and ;-lists inside brackets; formats them back', () => {
    expect(parseDnsblSite('zen.spamhaus.org=127.0.0.[2..11]*3')).toEqual({ zone: 'zen.spamhaus.org', filter: '127.0.0.[2..11]', weight: 3 });
    expect(parseDnsblSite('list.dnswl.org=127.0.[0..255].[1..3]*-2')).toEqual({ zone: 'list.dnswl.org', filter: '127.0.[0..255].[1..3]', weight: -2 });
    expect(parseDnsblSite('Bl.Example.=127.0.0.[2;4;10..11]')).toEqual({ zone: 'bl.example', filter: '127.0.0.[2;4;10..11]', weight: 1 });
    expect(parseDnsblSite('bl.example=')).toEqual({ zone: 'bl.example', weight: 1 });
    expect(formatDnsblSite({ zone: 'list.dnswl.org', filter: '127.0.[0..255].[1..3]', weight: -2 })).toBe('list.dnswl.org=127.0.[0..255].[1..3]*-2');
    expect(formatDnsblSite({ zone: 'bl.spamcop.net', weight: 1 })).toBe('bl.spamcop.net');
  });
  it.each([
    ['zen.spamhaus.org*three', /weight "three" is not an integer/],
    ['zen.spamhaus.org*', /weight "" is not an integer/],
    ['zen.spamhaus.org*1.5', /not an integer/],
    ['zen.spamhaus.org=127.0.0.[2..]*3', /not a number/],
    ['zen.spamhaus.org=127.0.0*3', /3 octets/],
    ['zen.spamhaus.org=127.0.0.[11..2]', /runs backwards/],
    ['not a zone', /is not a DNS zone name/],
    ['-bad-.example', /is not a DNS zone name/],
    ['=127.0.0.2', /is not a DNS zone name/],
  ])('refuses %s, naming the entry', (entry, reason) => {
    let err: unknown;
    try {
      parseDnsblSite(entry, 2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).item).toBe(entry);
    expect((err as PolicyError).reason).toMatch(reason);
    expect((err as PolicyError).position.index).toBe(2);
  });
});
