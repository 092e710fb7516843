import { describe, expect, it } from 'vitest';
import { classify, validateProfile } from './classify.ts';
import { parseCodeFilter } from '@moat/policy';
import { builtinProfiles, ProfileConfigError, profileForZone, profileTable } from './profiles.ts';

const table = profileTable();
const get = (name: string) => {
  const p = table.get(name);
  if (!p) throw new Error(name);
  return p;
};

describe('provider profiles', () => {
  it('every shipped filter parses', () => {
    for (const p of builtinProfiles) validateProfile(p);
  });
  it('picks profiles by zone name, including DQS-style subzones', () => {
    expect(profileForZone('zen.spamhaus.org', table).name).toBe('spamhaus-zen');
    expect(profileForZone('KEY.zen.dq.spamhaus.net.', table).name).toBe('spamhaus-zen');
    expect(profileForZone('dbl.spamhaus.org', table).name).toBe('spamhaus-dbl');
    expect(profileForZone('bl.example.net', table).name).toBe('generic');
  });
  it('Spamhaus error codes are never listings', () => {
    const c = classify(get('spamhaus-zen'), ['127.255.255.254', '127.255.255.252', '127.255.255.255']);
    expect(c.listings).toEqual([]);
    expect(c.errors.map((e) => e.code)).toEqual(['127.255.255.254', '127.255.255.252', '127.255.255.255']);
    expect(classify(get('spamhaus-zen'), ['127.0.0.4', '127.0.0.10']).listings.map((l) => l.code)).toEqual(['127.0.0.4', '127.0.0.10']);
  });
  it('Spamhaus ZEN: BCL (127.0.0.30) is a listing; DBL refuses IP queries with 127.0.1.255', () => {
    expect(classify(get('spamhaus-zen'), ['127.0.0.30']).listings.map((l) => l.code)).toEqual(['127.0.0.30']);
    const dbl = classify(get('spamhaus-dbl'), ['127.0.1.255', '127.0.1.2', '127.0.1.106']);
    expect(dbl.errors.map((e) => e.code)).toEqual(['127.0.1.255']);
    expect(dbl.listings.map((l) => l.code)).toEqual(['127.0.1.2', '127.0.1.106']);
  });
  it('dnswl: over quota and 127.0.10.x are errors even though the seed filter would match', () => {
    const c = classify(get('dnswl'), ['127.0.10.3', '127.0.0.255']);
    expect(c.listings).toEqual([]);
    expect(c.errors).toHaveLength(2);
    expect(classify(get('dnswl'), ['127.0.15.3']).listings).toHaveLength(1);
    expect(classify(get('dnswl'), ['127.0.15.4']).dropped).toHaveLength(1);
  });
  it('dnswl: documented categories only (2-15 without 10, and 20)', () => {
    expect(classify(get('dnswl'), ['127.0.2.0', '127.0.20.3']).listings).toHaveLength(2);
    expect(classify(get('dnswl'), ['127.0.16.3', '127.0.19.2']).listings).toEqual([]);
  });
  it('dwl.dnswl.org is a domain list with the dnswl codes and no IP probes', () => {
    const dwl = profileForZone('dwl.dnswl.org', table);
    expect(dwl.name).toBe('dnswl-dwl');
    expect(dwl.kind).toBe('domain');
    expect(dwl.health.ipv4).toBeUndefined();
    expect(dwl.health.domain).toBe(false);
    expect(profileForZone('list.dnswl.org', table).name).toBe('dnswl');
    const c = classify(dwl, ['127.0.10.3', '127.0.0.255', '127.0.3.2']);
    expect(c.errors).toHaveLength(2);
    expect(c.listings.map((l) => l.code)).toEqual(['127.0.3.2']);
  });
  it('hostkarma: NOBL is not a whitelist, whitelist code not a block listing', () => {
    const hk = get('hostkarma');
    expect(classify(hk, ['127.0.0.5'], 'allow').listings).toEqual([]);
    expect(classify(hk, ['127.0.0.1'], 'allow').listings.map((l) => l.code)).toEqual(['127.0.0.1']);
    expect(classify(hk, ['127.0.0.1'], 'block').listings).toEqual([]);
    expect(classify(hk, ['127.0.0.2', '127.0.1.1'], 'block').listings.map((l) => l.code)).toEqual(['127.0.0.2']);
  });
  it('generic drops out-of-range and 127.255.255.x', () => {
    const c = classify(get('generic'), ['93.184.216.34', '127.255.255.1', '127.0.0.2']);
    expect(c.outOfRange).toHaveLength(1);
    expect(c.errors).toHaveLength(1);
    expect(c.listings.map((l) => l.code)).toEqual(['127.0.0.2']);
  });
  it('a zone can count only some codes', () => {
    const c = classify(get('spamhaus-zen'), ['127.0.0.2', '127.0.0.10'], undefined, parseCodeFilter('127.0.0.[2..9]'));
    expect(c.listings.map((l) => l.code)).toEqual(['127.0.0.2']);
  });
  it('mailspike: bl counts L5-L3, wl counts H2-H5; neutral codes count for neither', () => {
    expect(classify(get('mailspike-bl'), ['127.0.0.2', '127.0.0.10']).listings).toHaveLength(2);
    expect(classify(get('mailspike-bl'), ['127.0.0.14', '127.0.0.18']).listings).toEqual([]);
    expect(classify(get('mailspike-wl'), ['127.0.0.18']).listings).toHaveLength(1);
    expect(classify(get('mailspike-wl'), ['127.0.0.16', '127.0.0.11', '127.0.0.2']).listings).toEqual([]);
  });
  it('iadb: accreditation codes only', () => {
    expect(classify(get('iadb'), ['127.0.2.1', '127.3.100.50', '127.1.0.3']).listings.map((l) => l.code)).toEqual(['127.0.2.1', '127.3.100.50']);
    // Vouched (SpamAssassin's RCVD_IN_IADB_VOUCHED) counts; bonded and pledge statements do not.
    expect(classify(get('iadb'), ['127.0.1.255', '127.0.3.1', '127.0.4.1']).listings.map((l) => l.code)).toEqual(['127.0.1.255']);
  });
});

describe('operator profiles', () => {
  it('a config map adds a profile and replaces a shipped one by name', () => {
    const t = profileTable({
      'my-list': { zones: ['bl.example.net'], listings: [{ codes: '127.0.0.[2..3]', meaning: 'mine' }] },
      psbl: { zones: ['psbl.surriel.com'], listings: [{ codes: '127.0.0.2' }], health: { ipv4: false } },
    });
    const mine = profileForZone('bl.example.net', t);
    expect(mine.name).toBe('my-list');
    expect(mine.errors.length).toBeGreaterThan(0); // 127.255.255.x by default
    expect(classify(mine, ['127.0.0.3', '127.255.255.254']).listings.map((l) => l.code)).toEqual(['127.0.0.3']);
    expect(t.get('psbl')?.health.ipv4).toBe(false);
  });
  it('refuses a profile without listings or with a bad kind', () => {
    expect(() => profileTable({ x: { zones: [] } })).toThrow(ProfileConfigError);
    expect(() => profileTable([{ name: 'y', kind: 'cidr', listings: [{ codes: '127.0.0.2' }] }])).toThrow(/kind/);
    expect(() => profileTable([{ listings: [{ codes: '127.0.0.2' }] }])).toThrow(/name/);
  });
});
