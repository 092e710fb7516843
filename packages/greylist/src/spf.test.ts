import { describe, expect, it } from 'vitest';
import type { DnsResult, SpfDns } from './dns.ts';
import { checkSpf } from './spf.ts';

/** A static zone: mailauth's pattern of handing every protocol function its resolver. */
function zone(records: Record<string, Partial<Record<'txt' | 'a' | 'aaaa' | 'mx', string[] | 'error'>>>): SpfDns & { queries: string[] } {
  const queries: string[] = [];
  const get = (type: 'txt' | 'a' | 'aaaa' | 'mx') => async (name: string): Promise<DnsResult<string[]>> => {
    queries.push(`${type} ${name}`);
    const v = records[name.toLowerCase()]?.[type];
    if (v === 'error') return { status: 'error', detail: 'SERVFAIL' };
    return v?.length ? { status: 'ok', data: v } : { status: 'none' };
  };
  return { txt: get('txt'), a: get('a'), aaaa: get('aaaa'), mx: get('mx'), queries };
}

describe('checkSpf', () => {
  const dns = zone({
    'pool.example': { txt: ['v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:10::/48 include:_spf.esp.example a mx:mx.pool.example/28 -all'] },
    '_spf.esp.example': { txt: ['v=spf1 ip4:198.51.100.0/25 ~all'] },
    'mx.pool.example': { mx: ['mail.pool.example'] },
    'mail.pool.example': { a: ['203.0.113.16'] },
    'redir.example': { txt: ['v=spf1 redirect=pool.example'] },
    'plusall.example': { txt: ['v=spf1 +all'] },
    'sub.example': { txt: ['v=spf1 include:plusall.example -all'] },
    'broken.example': { txt: ['v=spf1 include:nowhere.example -all'] },
    'temp.example': { txt: ['v=spf1 include:sick.example -all'] },
    'sick.example': { txt: 'error' },
    'two.example': { txt: ['v=spf1 -all', 'v=spf1 +all'] },
    'macro.example': { txt: ['v=spf1 exists:%{i}.spf.example ip4:192.0.2.1 -all'] },
    'other.example': { txt: ['some-verification=abc'] },
  });

  it('ip4, ip6, include, mx with cidr and the fail default', async () => {
    expect((await checkSpf(dns, '192.0.2.55', 'pool.example')).result).toBe('pass');
    expect((await checkSpf(dns, '2001:db8:10:ff::1', 'pool.example')).result).toBe('pass');
    expect((await checkSpf(dns, '198.51.100.10', 'pool.example')).result).toBe('pass');
    expect((await checkSpf(dns, '203.0.113.20', 'pool.example')).mechanism).toBe('mx:mx.pool.example/28');
    expect((await checkSpf(dns, '198.51.100.200', 'pool.example')).result).toBe('fail');
  });

  it('redirect, none, temperror, permerror, two records', async () => {
    expect((await checkSpf(dns, '192.0.2.1', 'redir.example')).result).toBe('pass');
    expect((await checkSpf(dns, '192.0.2.1', 'other.example')).result).toBe('none');
    expect((await checkSpf(dns, '192.0.2.1', 'nothing.example')).result).toBe('none');
    expect((await checkSpf(dns, '192.0.2.1', 'temp.example')).result).toBe('temperror');
    expect((await checkSpf(dns, '192.0.2.1', 'broken.example')).result).toBe('permerror');
    expect((await checkSpf(dns, '192.0.2.1', 'two.example')).result).toBe('permerror');
  });

  it('flags a pass that came from all, even through include', async () => {
    expect(await checkSpf(dns, '192.0.2.1', 'plusall.example')).toMatchObject({ result: 'pass', viaAll: true });
    expect(await checkSpf(dns, '192.0.2.1', 'sub.example')).toMatchObject({ result: 'pass', viaAll: true });
  });

  it('skips macro mechanisms instead of expanding them', async () => {
    expect((await checkSpf(dns, '192.0.2.1', 'macro.example')).result).toBe('pass');
    expect((await checkSpf(dns, '192.0.2.2', 'macro.example')).result).toBe('fail');
  });

  it('enforces the 10 DNS-lookup limit', async () => {
    const recs: Record<string, { txt: string[] }> = {};
    for (let i = 0; i < 12; i++) recs[`l${i}.example`] = { txt: [`v=spf1 include:l${i + 1}.example -all`] };
    recs['l12.example'] = { txt: ['v=spf1 +all'] };
    expect((await checkSpf(zone(recs), '192.0.2.1', 'l0.example')).result).toBe('permerror');
  });

  it('answers without a promise when the cache holds every answer, and the same as when it asks', async () => {
    // `held` answers from the same zone for the names listed, as a warm cache would
    const warm = (names: string[]): SpfDns & { queries: string[] } => {
      const z = zone({
        'pool.example': { txt: ['v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example -all'] },
        '_spf.esp.example': { txt: ['v=spf1 ip4:198.51.100.0/25 ~all'] },
      });
      const held: SpfDns['held'] = (type, name) => {
        if (!names.includes(`${type} ${name}`)) return undefined;
        if (name === 'pool.example') return { status: 'ok', data: ['v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example -all'] };
        if (name === '_spf.esp.example') return { status: 'ok', data: ['v=spf1 ip4:198.51.100.0/25 ~all'] };
        return { status: 'none' };
      };
      return { ...z, held };
    };
    const all = warm(['txt pool.example', 'txt _spf.esp.example', 'txt nothing.example']);
    const sync = checkSpf(all, '198.51.100.7', 'pool.example');
    expect(sync).not.toBeInstanceOf(Promise);
    expect(sync).toEqual({ result: 'pass', viaAll: false, mechanism: 'include:_spf.esp.example' });
    expect(checkSpf(all, '203.0.113.9', 'nothing.example')).toEqual({ result: 'none', viaAll: false });
    expect(all.queries).toEqual([]);
    // the include's record not held: the check goes on asynchronously from where it stopped, same answer
    const half = warm(['txt pool.example']);
    const later = checkSpf(half, '198.51.100.7', 'pool.example');
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toEqual(sync);
    expect(half.queries).toEqual(['txt _spf.esp.example']);
    expect(await checkSpf(half, '203.0.113.9', 'pool.example')).toMatchObject({ result: 'fail' });
  });

  it('a resolver that throws or rejects is a temperror, never an exception', async () => {
    const bad: SpfDns = { ...zone({}), txt: () => Promise.reject(new Error('boom')), held: () => undefined };
    expect(await checkSpf(bad, '192.0.2.1', 'pool.example')).toEqual({ result: 'temperror', viaAll: false });
    const worse: SpfDns = { ...zone({}), held: () => {
      throw new Error('boom');
    } };
    expect(checkSpf(worse, '192.0.2.1', 'pool.example')).toEqual({ result: 'temperror', viaAll: false });
  });
});
