// The DNS list client against real daemons: Debian's rbldnsd serving test zones, Unbound stubbing to it
// (everything else refused), and a black-hole server that never answers. Loopback only.
import { Writable } from 'node:stream';
import { createLogger, createRegistry, type Registry } from '@moat/observe';
import {
  type BlackholeDns,
  type RbldnsdServer,
  startBlackholeDns,
  startRbldnsd,
  startUnbound,
  type UnboundServer,
} from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCodeFilter, createDnsList, type DnsList, type DnsListOptions } from '../src/index.ts';

// TTLs of 1 s (answers and, through the SOA, negative answers): Unbound's cache forgets them quickly.
const ttl1 = '$SOA 1 ns.moat.test. hostmaster.moat.test. 0 60 60 600 1\n$TTL 1\n:127.0.0.2:listed in all\n';
const healthyAll = `${ttl1}127.0.0.2\n192.0.2.1\n`;
const listsEverything = `${ttl1}0.0.0.0-255.255.255.255\n`;
// Unbound keeps a TTL-1 entry for up to 2 s (whole seconds).
const cacheExpiry = () => new Promise((r) => setTimeout(r, 2200));

let rbl: RbldnsdServer;
let hole: BlackholeDns;
let unbound: UnboundServer;
const lines: Array<Record<string, unknown>> = [];
const clients: DnsList[] = [];

function logger() {
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return createLogger('dnslist-test', { level: 'debug', destination });
}

const zones: DnsListOptions['zones'] = {
  'zen.moat.test': { profile: 'spamhaus-zen' },
  'dbl.moat.test': { profile: 'spamhaus-dbl' },
  'dnswl.moat.test': { profile: 'dnswl' },
  'hk.moat.test': { profile: 'hostkarma' },
  'all.moat.test': { kind: 'ip' },
  'empty.moat.test': { kind: 'ip' },
};

function client(extra: Partial<DnsListOptions> = {}): { dns: DnsList; registry: Registry } {
  const registry = createRegistry();
  const dns = createDnsList({
    resolver: unbound.server,
    timeoutMs: 800,
    budgetMs: 1500,
    healthIntervalMs: 0,
    zones,
    registry,
    logger: logger(),
    ...extra,
  });
  clients.push(dns);
  return { dns, registry };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

beforeAll(async () => {
  rbl = await startRbldnsd({
    zones: {
      'zen.moat.test': [
        {
          type: 'ip4set',
          data: [
            ':127.0.0.2:SBL test listing $',
            '127.0.0.2',
            '192.0.2.1 :127.0.0.4:XBL: $ is an exploited host',
            '192.0.2.99 :127.255.255.254:Query refused: public resolver',
            '192.0.2.98 :127.255.255.252:Typo in DNSBL name',
          ].join('\n'),
        },
        { type: 'ip4set', data: '192.0.2.1 :127.0.0.10:PBL: $ is an end-user address' },
        { type: 'ip6trie', data: ':127.0.0.2:IPv6 listed $\n::ffff:7f00:2\n2001:db8::1\n2001:db8:bad::/48 :127.0.0.3:CSS range' },
      ],
      'dbl.moat.test': {
        type: 'dnset',
        data: [
          ':127.0.1.2:Domain $ is listed in the DBL',
          'test',
          'spam.example',
          '.wild.example',
          'abused.example :127.0.1.102:abused legitimate domain',
          'ipquery.example :127.0.1.255:IP queries prohibited',
        ].join('\n'),
      },
      'dnswl.moat.test': {
        type: 'ip4set',
        data: [
          '127.0.0.2 :127.0.10.0:dnswl test point',
          '192.0.2.20 :127.0.15.3:dnswl listed, high trust',
          '192.0.2.21 :127.0.10.3:dnswl return-high',
          '192.0.2.22 :127.0.0.255:dnswl over quota',
        ].join('\n'),
      },
      'hk.moat.test': [
        {
          type: 'ip4set',
          data: [
            '127.0.0.1 :127.0.0.1:whitelisted',
            '127.0.0.2 :127.0.0.2:blacklisted',
            '192.0.2.30 :127.0.0.1:whitelisted',
            '192.0.2.31 :127.0.0.5:NOBL',
            '192.0.2.32 :127.0.0.2:blacklisted',
          ].join('\n'),
        },
        { type: 'ip6trie', data: '::ffff:7f00:1 :127.0.0.1:white\n::ffff:7f00:2 :127.0.0.2:black' },
      ],
      'all.moat.test': { type: 'ip4set', data: healthyAll },
      'empty.moat.test': { type: 'ip4set', data: '192.0.2.1' },
    },
  });
  hole = await startBlackholeDns();
  const stub = Object.fromEntries(Object.keys(zones ?? {}).map((z) => [z, rbl.stubAddr]));
  unbound = await startUnbound({ stubZones: { ...stub, 'dead.moat.test': hole.stubAddr } });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await unbound?.stop();
  await rbl?.stop();
  await hole?.stop();
});

describe('IPv4 and IPv6 client lists', () => {
  it('listed with every code and the TXT reasons; unlisted is not-listed', async () => {
    const { dns } = client({ healthOnStart: false });
    const [hit, miss] = await dns.lookup([
      { zone: 'zen.moat.test', target: 'client', key: '192.0.2.1' },
      { zone: 'zen.moat.test', target: 'client', key: '192.0.2.2' },
    ]);
    expect(hit?.status).toBe('listed');
    expect(hit?.codes.sort()).toEqual(['127.0.0.10', '127.0.0.4']);
    expect(hit?.txt).toContain('XBL: 192.0.2.1 is an exploited host');
    expect(hit?.txt).toContain('PBL: 192.0.2.1 is an end-user address');
    expect(hit?.detail).toContain('XBL');
    expect(miss).toMatchObject({ status: 'not-listed', codes: [] });
  });

  it('IPv6 nibble lookups: listed address, listed range, unlisted, IPv4-mapped', async () => {
    const { dns } = client({ healthOnStart: false });
    const [one, range, none, mapped] = await dns.lookup([
      { zone: 'zen.moat.test', target: 'client', key: '2001:db8::1' },
      { zone: 'zen.moat.test', target: 'client', key: '2001:db8:bad:1::25' },
      { zone: 'zen.moat.test', target: 'client', key: '2001:db8::2' },
      { zone: 'zen.moat.test', target: 'client', key: '::ffff:192.0.2.1' },
    ]);
    expect(one).toMatchObject({ status: 'listed', codes: ['127.0.0.2'], txt: 'IPv6 listed 2001:db8::1' });
    expect(range).toMatchObject({ status: 'listed', codes: ['127.0.0.3'], txt: 'CSS range' });
    expect(none?.status).toBe('not-listed');
    expect(mapped?.status).toBe('listed');
  });
});

describe('RHSBL on client name, reverse client name, sender domain and HELO', () => {
  it('queries each domain target and skips what is no domain', async () => {
    const { dns } = client({ healthOnStart: false });
    const answers = await dns.lookup([
      { zone: 'dbl.moat.test', target: 'client-name', key: 'mx1.wild.example' },
      { zone: 'dbl.moat.test', target: 'reverse-client-name', key: 'spam.example.' },
      { zone: 'dbl.moat.test', target: 'sender-domain', key: 'Spam.Example' },
      { zone: 'dbl.moat.test', target: 'helo', key: 'spam.example' },
      { zone: 'dbl.moat.test', target: 'helo', key: 'clean.example' },
      { zone: 'dbl.moat.test', target: 'helo', key: '[192.0.2.1]' },
      { zone: 'dbl.moat.test', target: 'sender-domain', key: 'abused.example' },
    ]);
    expect(answers.map((a) => a.status)).toEqual(['listed', 'listed', 'listed', 'listed', 'not-listed', 'not-listed', 'listed']);
    expect(answers[0]?.txt).toBe('Domain wild.example is listed in the DBL'); // rbldnsd's $ is the matching entry
    expect(answers[2]?.codes).toEqual(['127.0.1.2']);
    expect(answers[5]?.detail).toBe('address literal, not a domain');
    expect(answers[6]?.codes).toEqual(['127.0.1.102']);
  });
});

describe('return-code filters (Postfix syntax) on real answers', () => {
  it('each filter form', async () => {
    const { dns } = client({ healthOnStart: false });
    const [a] = await dns.lookup([{ zone: 'zen.moat.test', target: 'client', key: '192.0.2.1' }]);
    if (!a) throw new Error('no answer');
    const codes = (f: string | undefined) => {
      const r = applyCodeFilter(a, f);
      return r.status === 'listed' ? [...r.codes].sort() : r.status;
    };
    expect(codes(undefined)).toEqual(['127.0.0.10', '127.0.0.4']);
    expect(codes('')).toEqual(['127.0.0.10', '127.0.0.4']); // bare `=`
    expect(codes('127.0.0.4')).toEqual(['127.0.0.4']);
    expect(codes('127.0.0.2')).toBe('not-listed');
    expect(codes('127.0.0.[4;10]')).toEqual(['127.0.0.10', '127.0.0.4']);
    expect(codes('127.0.[0..255].[10..11]')).toEqual(['127.0.0.10']);
    expect(codes('127.0.0.[2..3]')).toBe('not-listed');
  });

  it('a zone can count only some codes', async () => {
    const { dns } = client({ healthOnStart: false, zones: { 'zen.moat.test': { profile: 'spamhaus-zen', codes: '127.0.0.[2..9]' } } });
    const [a] = await dns.lookup([{ zone: 'zen.moat.test', target: 'client', key: '192.0.2.1' }]);
    expect(a).toMatchObject({ status: 'listed', codes: ['127.0.0.4'] });
  });
});

describe('operator error answers are never listings', () => {
  it('Spamhaus 127.255.255.254/252 and DBL 127.0.1.255: not listed + zone-health warning', async () => {
    const { dns, registry } = client({ healthOnStart: false });
    const [pub, typo, dbl] = await dns.lookup([
      { zone: 'zen.moat.test', target: 'client', key: '192.0.2.99' },
      { zone: 'zen.moat.test', target: 'client', key: '192.0.2.98' },
      { zone: 'dbl.moat.test', target: 'helo', key: 'ipquery.example' },
    ]);
    expect(pub).toMatchObject({ status: 'not-listed', codes: [] });
    expect(pub?.detail).toContain('public/open resolver');
    expect(typo?.status).toBe('not-listed');
    expect(dbl?.status).toBe('not-listed');
    // Even the loosest admin filter cannot turn them into listings.
    expect(applyCodeFilter(pub ?? dbl!, '').status).toBe('not-listed');
    expect(await metricValue(registry, 'moat_dnslist_zone_warnings_total', { zone: 'zen.moat.test', reason: 'error-code' })).toBe(2);
    expect(dns.health().find((h) => h.zone === 'zen.moat.test')?.warnings).toBe(2);
    expect(lines.some((l) => l.zone === 'zen.moat.test' && l.code === '127.255.255.254' && l.level === 40)).toBe(true);
  });

  it('dnswl: 127.0.0.255 and 127.0.10.3 with the seed filter 127.0.[0..255].[2..3] are not listed', async () => {
    const { dns, registry } = client({ healthOnStart: false });
    const answers = await dns.lookup([
      { zone: 'dnswl.moat.test', target: 'client', key: '192.0.2.21', use: 'allow' },
      { zone: 'dnswl.moat.test', target: 'client', key: '192.0.2.22', use: 'allow' },
      { zone: 'dnswl.moat.test', target: 'client', key: '192.0.2.20', use: 'allow' },
    ]);
    const seed = answers.map((a) => applyCodeFilter(a, '127.0.[0..255].[2..3]'));
    expect(seed.map((a) => a.status)).toEqual(['not-listed', 'not-listed', 'listed']);
    expect(seed[2]?.codes).toEqual(['127.0.15.3']);
    expect(await metricValue(registry, 'moat_dnslist_zone_warnings_total', { zone: 'dnswl.moat.test', reason: 'error-code' })).toBe(2);
  });

  it('hostkarma: 127.0.0.5 (NOBL) is no whitelisting; 127.0.0.1 is; the whitelist code never blocks', async () => {
    const { dns } = client({ healthOnStart: false });
    const [nobl, white, whiteAsBlock, black] = await dns.lookup([
      { zone: 'hk.moat.test', target: 'client', key: '192.0.2.31', use: 'allow' },
      { zone: 'hk.moat.test', target: 'client', key: '192.0.2.30', use: 'allow' },
      { zone: 'hk.moat.test', target: 'client', key: '192.0.2.30', use: 'block' },
      { zone: 'hk.moat.test', target: 'client', key: '192.0.2.32', use: 'block' },
    ]);
    // The seed's `permit_dnswl_client hostkarma=127.0.0.[1;5]`:
    expect(applyCodeFilter(nobl!, '127.0.0.[1;5]').status).toBe('not-listed');
    expect(nobl?.detail).toContain('NOBL');
    expect(applyCodeFilter(white!, '127.0.0.[1;5]').status).toBe('listed');
    expect(whiteAsBlock?.status).toBe('not-listed');
    expect(black).toMatchObject({ status: 'listed', codes: ['127.0.0.2'] });
  });
});

describe('a zone whose server never answers', () => {
  it('times out, fails open, and the batch returns within its budget', async () => {
    const { dns, registry } = client({ healthOnStart: false, timeoutMs: 400, budgetMs: 700 });
    const started = Date.now();
    const [dead, zen] = await dns.lookup([
      { zone: 'dead.moat.test', target: 'client', key: '192.0.2.1' },
      { zone: 'zen.moat.test', target: 'client', key: '192.0.2.1' },
    ]);
    const ms = Date.now() - started;
    expect(dead?.status).toBe('unknown');
    expect(zen?.status).toBe('listed');
    expect(ms).toBeLessThan(700 + 1000); // the budget plus scheduling slack on a loaded machine: a bound, not a speed claim
    expect(hole.received()).toBeGreaterThan(0);
    const failed =
      (await metricValue(registry, 'moat_dnslist_errors_total', { zone: 'dead.moat.test', kind: 'timeout' })) +
      (await metricValue(registry, 'moat_dnslist_errors_total', { zone: 'dead.moat.test', kind: 'servfail' }));
    expect(failed).toBe(1);
    expect(lines.some((l) => l.zone === 'dead.moat.test' && l.msg === 'DNS list lookup failed open')).toBe(true);
  });

  it('a dead resolver: every query unknown within the budget, never thrown', async () => {
    const registry = createRegistry();
    const dns = createDnsList({ resolver: hole.server, timeoutMs: 300, budgetMs: 500, healthOnStart: false, healthIntervalMs: 0, registry, logger: logger() });
    clients.push(dns);
    const started = Date.now();
    const answers = await dns.lookup([
      { zone: 'zen.moat.test', target: 'client', key: '192.0.2.1' },
      { zone: 'dbl.moat.test', target: 'helo', key: 'spam.example' },
    ]);
    expect(answers.map((a) => a.status)).toEqual(['unknown', 'unknown']);
    expect(Date.now() - started).toBeLessThan(500 + 1000);
  });

  it('identical queries in one batch are asked once', async () => {
    const registry = createRegistry();
    const dns = createDnsList({ resolver: hole.server, timeoutMs: 300, budgetMs: 500, healthOnStart: false, healthIntervalMs: 0, registry, logger: logger() });
    clients.push(dns);
    const q = { zone: 'zen.moat.test', target: 'client' as const, key: '192.0.2.77' };
    let before = hole.received();
    await dns.lookup([{ ...q, key: '192.0.2.78' }]);
    const single = hole.received() - before;
    before = hole.received();
    const answers = await dns.lookup([q, q, { ...q, zone: 'ZEN.moat.test.' }]);
    const triple = hole.received() - before;
    expect(single).toBeGreaterThan(0);
    expect(triple).toBeLessThan(2 * single);
    expect(answers.map((a) => a.zone)).toEqual(['zen.moat.test', 'zen.moat.test', 'ZEN.moat.test.']);
  });

  it('the budget caps the batch even when the per-lookup timeout is longer', async () => {
    const { dns, registry } = client({ healthOnStart: false, timeoutMs: 5000, budgetMs: 400 });
    const started = Date.now();
    const [dead] = await dns.lookup([{ zone: 'dead.moat.test', target: 'client', key: '192.0.2.7' }]);
    expect(Date.now() - started).toBeLessThan(400 + 1000);
    expect(dead?.status).toBe('unknown');
    const kinds = ['budget', 'timeout', 'servfail'];
    let n = 0;
    for (const kind of kinds) n += await metricValue(registry, 'moat_dnslist_errors_total', { zone: 'dead.moat.test', kind });
    expect(n).toBe(1);
  });
});

describe('zone health (RFC 5782 test points)', () => {
  it('healthy zones, profile exemptions, and a zone that does not list its test point', async () => {
    const { dns, registry } = client();
    await dns.ready;
    const h = Object.fromEntries(dns.health().map((z) => [z.zone, z]));
    expect(h['zen.moat.test']?.state).toBe('healthy');
    expect(h['dbl.moat.test']?.state).toBe('healthy'); // `test` listed, `invalid` not
    expect(h['dnswl.moat.test']?.state).toBe('healthy'); // its test point answers 127.0.10.0
    expect(h['hk.moat.test']?.state).toBe('healthy'); // lists 127.0.0.1 and ::ffff:7f00:1 on purpose
    expect(h['all.moat.test']?.state).toBe('healthy');
    expect(h['empty.moat.test']).toMatchObject({ state: 'disabled' });
    expect(h['empty.moat.test']?.reason).toContain('does not list the RFC 5782 test point 127.0.0.2');
    expect(await metricValue(registry, 'moat_dnslist_zone_healthy', { zone: 'empty.moat.test' })).toBe(0);
    const [a] = await dns.lookup([{ zone: 'empty.moat.test', target: 'client', key: '192.0.2.1' }]);
    expect(a?.status).toBe('unknown');
    expect(a?.detail).toContain('zone disabled by health check');
  });

  it('disables a zone that starts listing everything, loudly, and re-enables it when healthy', async () => {
    const { dns, registry } = client();
    await dns.ready;
    expect(dns.health().find((z) => z.zone === 'all.moat.test')?.state).toBe('healthy');
    try {
      await rbl.update('all.moat.test', { type: 'ip4set', data: listsEverything });
      await cacheExpiry();
      await dns.checkHealth();
      const z = dns.health().find((x) => x.zone === 'all.moat.test');
      expect(z?.state).toBe('disabled');
      expect(z?.reason).toContain('lists everything');
      expect(lines.some((l) => l.level === 50 && l.zone === 'all.moat.test' && String(l.msg).includes('DISABLED'))).toBe(true);
      const [a] = await dns.lookup([{ zone: 'all.moat.test', target: 'client', key: '198.51.100.7' }]);
      expect(a?.status).toBe('unknown');
      expect(await metricValue(registry, 'moat_dnslist_zone_healthy', { zone: 'all.moat.test' })).toBe(0);
    } finally {
      await rbl.update('all.moat.test', { type: 'ip4set', data: healthyAll });
    }
    await cacheExpiry();
    await dns.checkHealth();
    expect(dns.health().find((x) => x.zone === 'all.moat.test')?.state).toBe('healthy');
    expect(lines.some((l) => l.zone === 'all.moat.test' && l.msg === 'DNS list zone re-enabled: healthy again')).toBe(true);
    const [b] = await dns.lookup([{ zone: 'all.moat.test', target: 'client', key: '192.0.2.1' }]);
    expect(b?.status).toBe('listed');
  });
});

describe('periodic health checks', () => {
  it('run every healthIntervalMs and stop at close()', async () => {
    let tick = 0;
    const { dns } = client({ healthIntervalMs: 150, zones: { 'zen.moat.test': { profile: 'spamhaus-zen' } }, clock: { now: () => ++tick } });
    await dns.ready;
    const first = dns.health()[0]?.checkedAt ?? 0;
    await new Promise((r) => setTimeout(r, 600));
    const later = dns.health()[0]?.checkedAt ?? 0;
    expect(later).toBeGreaterThan(first);
    dns.close();
    await new Promise((r) => setTimeout(r, 200)); // a check already in flight may still land
    const closed = dns.health()[0]?.checkedAt;
    await new Promise((r) => setTimeout(r, 500));
    expect(dns.health()[0]?.checkedAt).toBe(closed);
  });
});

describe('resolver start-up check', () => {
  it('warns (log + metric) when the resolver is not local; refuses host names', async () => {
    const registry = createRegistry();
    // healthOnStart false and no lookups: nothing is ever sent to this address.
    const dns = createDnsList({ resolver: '192.0.2.53', healthOnStart: false, healthIntervalMs: 0, registry, logger: logger() });
    dns.close();
    expect(await metricValue(registry, 'moat_dnslist_resolver_not_local', {})).toBe(1);
    expect(lines.some((l) => l.resolver === '192.0.2.53:53' && l.level === 40)).toBe(true);
    expect(() => createDnsList({ resolver: 'dns.google', registry, logger: logger() })).toThrow(/IP address/);
  });
});
