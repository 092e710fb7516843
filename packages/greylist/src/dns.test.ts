import { type CachingDns, type Dns, memo } from '@moat/dns';
import { describe, expect, it } from 'vitest';
import { spfDns, type SpfQuestion } from './dns.ts';
import { checkSpf } from './spf.ts';

const coded = (code: string) => Object.assign(new Error(code), { code });

/** Canned answers per "TYPE name"; an Error rejects with it. */
const zone: Record<string, unknown> = {
  'TXT split.example': [['v=spf1 ip4:192.0.2.0/24 ', 'include:_spf.example ', '-all'], ['other']],
  'MX mixed.example': [
    { exchange: 'c.mixed.example', priority: 30 },
    { exchange: 'a.mixed.example', priority: 10 },
    { exchange: 'b.mixed.example', priority: 20 },
  ],
  'A host.example': ['192.0.2.1', '192.0.2.2'],
  'AAAA host.example': ['2001:db8::1'],
  'TXT nx.example': coded('ENOTFOUND'),
  'A nodata.example': coded('ENODATA'),
  'TXT servfail.example': coded('ESERVFAIL'),
  'MX refused.example': coded('EREFUSED'),
};

/** A CachingDns over the real memo (failures kept as createDns keeps them, SERVFAIL/REFUSED 5 s); `asked` counts queries. */
function cachingZone(asked: string[] = []): CachingDns {
  const m = memo({ failureMs: 5000 });
  const ask = <T>(type: string, name: string) =>
    m.ask<T>(`${type} ${name}`, async () => {
      asked.push(`${type} ${name}`);
      const v = zone[`${type} ${name}`] ?? coded('ENOTFOUND');
      if (v instanceof Error) throw v;
      return { data: v as T };
    });
  const dns = {
    resolve4: (n: string) => ask<string[]>('A', n),
    resolve6: (n: string) => ask<string[]>('AAAA', n),
    resolveTxt: (n: string) => ask<string[][]>('TXT', n),
    resolveMx: (n: string) => ask<{ exchange: string; priority: number }[]>('MX', n),
  } as unknown as Dns;
  return { ...dns, fresh: dns, size: () => m.size(), held: (type, name) => m.peek(`${type} ${name}`) } as CachingDns;
}

const questions: Array<[SpfQuestion, string]> = [
  ['txt', 'split.example'],
  ['mx', 'mixed.example'],
  ['a', 'host.example'],
  ['aaaa', 'host.example'],
  ['txt', 'nx.example'],
  ['a', 'nodata.example'],
  ['txt', 'servfail.example'],
  ['mx', 'refused.example'],
];

describe('spfDns: held() answers as the asking path does', () => {
  it.each(questions)('%s %s', async (type, name) => {
    const dns = spfDns(cachingZone());
    expect(dns.held!(type, name)).toBeUndefined(); // nothing held before the first question
    const asked = await dns[type](name);
    expect(dns.held!(type, name)).toEqual(asked);
    expect(await dns[type](name)).toEqual(asked); // the memo's answer, asked again
  });

  it('shapes as SPF reads them: TXT chunks joined, MX by preference, failures kept apart', async () => {
    const dns = spfDns(cachingZone());
    expect(await dns.txt('split.example')).toEqual({ status: 'ok', data: ['v=spf1 ip4:192.0.2.0/24 include:_spf.example -all', 'other'] });
    expect(await dns.mx('mixed.example')).toEqual({ status: 'ok', data: ['a.mixed.example', 'b.mixed.example', 'c.mixed.example'] });
    expect(await dns.a('nodata.example')).toEqual({ status: 'none' });
    expect(await dns.txt('servfail.example')).toEqual({ status: 'error', detail: 'ESERVFAIL' });
    expect(dns.held!('mx', 'refused.example')).toBeUndefined();
    expect(await dns.mx('refused.example')).toEqual({ status: 'error', detail: 'EREFUSED' });
    expect(dns.held!('mx', 'refused.example')).toEqual({ status: 'error', detail: 'EREFUSED' });
  });
});

describe('checkSpf over a held SERVFAIL', () => {
  it('temperror from the held failure, as from the asked one, without a second query', async () => {
    const asked: string[] = [];
    const dns = spfDns(cachingZone(asked));
    const first = checkSpf(dns, '192.0.2.1', 'servfail.example');
    expect(first).toBeInstanceOf(Promise); // nothing held yet: asked
    expect(await first).toEqual({ result: 'temperror', viaAll: false });
    expect(checkSpf(dns, '192.0.2.1', 'servfail.example')).toEqual({ result: 'temperror', viaAll: false }); // held: no promise
    expect(asked).toEqual(['TXT servfail.example']);
  });
});
