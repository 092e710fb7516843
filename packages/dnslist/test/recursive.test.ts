// The production resolver (compose/unbound/unbound.conf, only root hints and loopback lines replaced) recursing
// through a simulated, DNSSEC-signed Internet (@moat/testkit: NSD root, TLD and list-operator servers on
// 127.53.x.y:53), asked by the DNS-list client for the default policy's zones. Loopback only.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createLogger, createRegistry } from '@moat/observe';
import { type DnsInternet, type ProductionUnbound, startDnsInternet, startProductionUnbound } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsList, type DnsList } from '../src/index.ts';

const run = promisify(execFile);
const PRODUCTION = new URL('../../../compose/unbound/unbound.conf', import.meta.url).pathname;
const DEFAULT_POLICY = new URL('../../config/src/default-policy.ts', import.meta.url).pathname;

const LISTED = '192.0.2.99';
const CLEAN = '192.0.2.1';
const WHITE = '192.0.2.20';
const FORGED = '192.0.2.98';
const rev = (ip: string) => ip.split('.').reverse().join('.');

/** The default policy's DNS-list zones, read from its text (no dependency on @moat/config, which uses this package). */
async function defaultPolicyZones(): Promise<string[]> {
  const text = await readFile(DEFAULT_POLICY, 'utf8');
  const zones = [...text.matchAll(/^\s*(?:permit_dnswl_client|reject_rbl_client|reject_rhsbl_\w+)\s+([a-z0-9.-]+)/gm)].map((m) => m[1]!);
  return [...new Set(zones)];
}

/** RFC 5782 test points plus the test's listings, per zone. */
function ipList(zone: string, listed: Record<string, string>, testPoint = '127.0.0.2'): string[] {
  return [`2.0.0.127.${zone}. A ${testPoint}`, ...Object.entries(listed).map(([ip, code]) => `${rev(ip)}.${zone}. A ${code}`)];
}

/** The simulated servers listen on port 53 (delegations carry no port): root, or a lowered unprivileged port start. */
const canBind53 = process.getuid?.() === 0 || Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 53;
if (!canBind53) console.warn('recursive.test.ts skipped: binding 127.53.x.y:53 needs root (or net.ipv4.ip_unprivileged_port_start <= 53)');

let net: DnsInternet;
let unbound: ProductionUnbound;
let dns: DnsList;
let zones: string[];
const logLines: string[] = [];

beforeAll(async () => {
  if (!canBind53) return;
  zones = await defaultPolicyZones();
  net = await startDnsInternet({
    dnssec: true,
    domains: {
      'spamhaus.org': [
        // every ZEN answer is 127.255.255.254: what Spamhaus tells a query that came through a public resolver
        '*.zen.spamhaus.org. A 127.255.255.254',
        'test.dbl.spamhaus.org. A 127.0.1.2',
        'spam.example.dbl.spamhaus.org. A 127.0.1.2',
      ],
      'mailspike.net': [
        ...ipList('bl.mailspike.net', { [LISTED]: '127.0.0.2', [FORGED]: '127.0.0.2' }),
        ...ipList('wl.mailspike.net', { [WHITE]: '127.0.0.18' }),
      ],
      'barracudacentral.org': ipList('b.barracudacentral.org', { [LISTED]: '127.0.0.2' }),
      'uceprotect.net': ipList('dnsbl-1.uceprotect.net', { [LISTED]: '127.0.0.2' }),
      'dnswl.org': ipList('list.dnswl.org', { [WHITE]: '127.0.15.3' }, '127.0.10.0'),
      'junkemailfilter.com': [...ipList('hostkarma.junkemailfilter.com', { [LISTED]: '127.0.0.2' }), '1.0.0.127.hostkarma.junkemailfilter.com. A 127.0.0.1'],
      'isipp.com': ipList('iadb.isipp.com', {}),
      'surriel.com': ipList('psbl.surriel.com', { [LISTED]: '127.0.0.2' }),
      'gbudb.net': ipList('truncate.gbudb.net', { [LISTED]: '127.0.0.2' }),
      // bondedsender.org and habeas.com are gone: their TLDs answer NXDOMAIN
    },
    extraTlds: ['org', 'com'],
    delegation: { 'surriel.com': 'lame', 'uceprotect.net': 'partly-lame', 'gbudb.net': 'timeout' },
    forged: { 'mailspike.net': { replace: `${rev(FORGED)}.bl.mailspike.net`, with: '127.0.0.10' } },
  });
  unbound = await startProductionUnbound({ productionConf: PRODUCTION, rootHints: net.rootHints, trustAnchor: net.trustAnchor });
  const destination = { write: (s: string) => logLines.push(s) } as unknown as NodeJS.WritableStream;
  dns = createDnsList({
    resolver: unbound.server,
    timeoutMs: 1500,
    budgetMs: 4000,
    healthIntervalMs: 0,
    zones: Object.fromEntries(zones.map((z) => [z, {}])),
    registry: createRegistry(),
    logger: createLogger('recursive-test', { level: 'info', destination }),
  });
  await dns.ready;
}, 120_000);

afterAll(async () => {
  dns?.close();
  await unbound?.stop();
  await net?.stop();
});

const ask = async (zone: string, ip: string, use?: 'allow' | 'block') => {
  const [r] = await dns.lookup([{ zone, target: 'client', key: ip, ...(use ? { use } : {}) }]);
  return r!;
};

describe.skipIf(!canBind53)('the production resolver against a simulated Internet', () => {
  it('covers the default policy’s zones (their operators’ domains are in the simulated Internet)', () => {
    expect(zones).toEqual(
      expect.arrayContaining(['zen.spamhaus.org', 'dbl.spamhaus.org', 'list.dnswl.org', 'bl.mailspike.net', 'psbl.surriel.com', 'truncate.gbudb.net']),
    );
    expect(zones.length).toBeGreaterThanOrEqual(13);
  });

  it('gets real answers through recursion: listed and not listed', async () => {
    expect(await ask('bl.mailspike.net', LISTED)).toMatchObject({ status: 'listed', codes: ['127.0.0.2'] });
    expect(await ask('b.barracudacentral.org', LISTED)).toMatchObject({ status: 'listed', codes: ['127.0.0.2'] });
    expect(await ask('list.dnswl.org', WHITE, 'allow')).toMatchObject({ status: 'listed', codes: ['127.0.15.3'] });
    expect(await ask('wl.mailspike.net', WHITE, 'allow')).toMatchObject({ status: 'listed', codes: ['127.0.0.18'] });
    expect(await ask('bl.mailspike.net', CLEAN)).toMatchObject({ status: 'not-listed' });
    expect(await ask('b.barracudacentral.org', CLEAN)).toMatchObject({ status: 'not-listed' });
  });

  it('a list whose domain no longer exists answers NXDOMAIN from its TLD: not listed, not an error', async () => {
    expect(await ask('sa-accredit.habeas.com', WHITE, 'allow')).toMatchObject({ status: 'not-listed' });
    expect(await ask('sa-trusted.bondedsender.org', WHITE, 'allow')).toMatchObject({ status: 'not-listed' });
  });

  it('a lame delegation fails open (unknown); one lame server beside a good one still answers', async () => {
    const lame = await ask('psbl.surriel.com', LISTED);
    expect(lame.status).toBe('unknown');
    expect(lame.detail).toMatch(/SERVFAIL|servfail/i);
    expect(await ask('dnsbl-1.uceprotect.net', LISTED)).toMatchObject({ status: 'listed' });
  });

  it('a server that never answers is a timeout (unknown), within the client’s own budget', async () => {
    const t = await ask('truncate.gbudb.net', LISTED);
    expect(t.status).toBe('unknown');
    // whichever gives up first: c-ares' timeout, Unbound's SERVFAIL, or the client's own budget (a loaded machine)
    expect(t.detail).toMatch(/timed out|SERVFAIL|no answer within \d+ ms/i);
    expect((await net.queries()).timeout).toBeGreaterThan(0);
  });

  it('Spamhaus’s public-resolver code 127.255.255.254 disables the zone with a clear warning', async () => {
    const zen = dns.health().find((z) => z.zone === 'zen.spamhaus.org');
    expect(zen?.state).toBe('disabled');
    expect(zen?.reason).toMatch(/127\.255\.255\.254/);
    expect(zen?.reason).toMatch(/public\/open resolver/);
    expect(logLines.join('')).toMatch(/DNS LIST ZONE DISABLED: zen\.spamhaus\.org/);
    const r = await ask('zen.spamhaus.org', LISTED);
    expect(r.status).toBe('unknown');
    expect(r.detail).toMatch(/zone disabled by health check/);
    // the DBL beside it is fine
    expect(dns.health().find((z) => z.zone === 'dbl.spamhaus.org')?.state).toBe('healthy');
  });

  it('the second lookup of the same names makes no upstream query (counted at the fake servers)', async () => {
    const names = ['203.0.113.7', '203.0.113.8'];
    const batch = () =>
      dns.lookup(
        ['bl.mailspike.net', 'b.barracudacentral.org', 'list.dnswl.org', 'dbl.spamhaus.org'].flatMap((zone) =>
          names.map((key) => (zone === 'dbl.spamhaus.org' ? { zone, target: 'sender-domain' as const, key: `x${key.slice(-1)}.example` } : { zone, target: 'client' as const, key })),
        ),
      );
    const before = await net.queries();
    const first = await batch();
    const middle = await net.queries();
    const second = await batch();
    const after = await net.queries();
    expect(first.every((r) => r.status === 'not-listed')).toBe(true);
    expect(second.map((r) => r.status)).toEqual(first.map((r) => r.status));
    expect(middle.operators).toBeGreaterThan(before.operators);
    // the silent server is left out: Unbound goes on retrying an earlier test's unanswered query in the
    // background (its own schedule), which is not a lookup of these names
    const answered = ({ timeout: _, ...rest }: typeof after) => rest;
    expect(answered(after)).toEqual(answered(middle));
  });

  it('validates DNSSEC: signed answers are authenticated (AD), a forged answer is refused (SERVFAIL)', async () => {
    const ad = await run('drill', ['-D', '-p', String(unbound.port), `${rev(LISTED)}.bl.mailspike.net`, '@127.0.0.1', 'A']);
    expect(ad.stdout).toMatch(/flags: qr rd ra ad/);
    expect(ad.stdout).toMatch(/127\.0\.0\.2/);
    const bogus = await run('drill', ['-D', '-p', String(unbound.port), `${rev(FORGED)}.bl.mailspike.net`, '@127.0.0.1', 'A']);
    expect(bogus.stdout).toMatch(/rcode: SERVFAIL/);
    expect(bogus.stdout).not.toMatch(/127\.0\.0\.10/);
    const r = await ask('bl.mailspike.net', FORGED);
    expect(r.status).toBe('unknown');
    expect(unbound.output()).toMatch(/validation failure <98\.2\.0\.192\.bl\.mailspike\.net\. A IN>/);
  });
});
