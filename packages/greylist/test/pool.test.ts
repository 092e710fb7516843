// Pool-aware matching against a real resolver path: SPF served by a loopback DNS server, FCrDNS org domains.
// A sender retrying from another /24 of its SPF pool passes after one delay, not after hours.
import { createRegistry } from '@moat/observe';
import { type RedisServer, startRedis } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGreylist, type Greylist } from '../src/index.ts';
import { startTestDns, type TestDns } from './dns-server.ts';
import { settableClock, silentLogger } from './helpers.ts';

let redis: RedisServer;
let dns: TestDns;
let gl: Greylist;
const clock = settableClock();

beforeAll(async () => {
  redis = await startRedis();
  dns = await startTestDns({
    'pool.example': { TXT: ['v=spf1 ip4:192.0.2.0/24 include:_spf.pool.example -all', 'google-site-verification=xyz'] },
    '_spf.pool.example': { TXT: ['v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:77::/48 a:relay.pool.example ~all'] },
    'relay.pool.example': { A: ['233.252.0.25'] },
    'anyone.example': { TXT: ['v=spf1 +all'] },
    'nospf.example': { A: ['192.0.2.1'] },
  });
  gl = createGreylist({
    redis: { url: redis.url },
    resolver: dns.server,
    clock,
    timeoutMs: 5000,
    registry: createRegistry(),
    logger: silentLogger(),
  });
  await gl.ping();
});
afterAll(async () => {
  await gl.close();
  await dns.close();
  await redis.stop();
});

const r = (clientAddress: string, sender: string, clientName?: string) => ({ clientAddress, clientName, sender, recipient: 'bob@rcpt.example' });

it('a retry from another address the sender domain authorises matches (v4, include, a, v6)', async () => {
  expect(await gl.check(r('192.0.2.10', 'news@pool.example'))).toMatchObject({ action: 'defer' });
  clock.advance(61);
  expect(await gl.check(r('198.51.100.77', 'news@pool.example'))).toMatchObject({ action: 'pass', reason: 'retry' });
  expect(await gl.check(r('233.252.0.25', 'news@pool.example'))).toMatchObject({ action: 'pass', reason: 'known' });
  expect(await gl.check(r('2001:db8:77:1::9', 'news@pool.example'))).toMatchObject({ action: 'pass', reason: 'known' });
  expect((await gl.inspect(r('192.0.2.10', 'news@pool.example'))).identity).toBe('spf:pool.example');
});

it('an address outside the record, +all and no SPF all fall back to the /24', async () => {
  expect(await gl.check(r('203.0.113.5', 'x@pool.example'))).toMatchObject({ action: 'defer' });
  expect(await gl.check(r('203.0.113.5', 'x@anyone.example'))).toMatchObject({ action: 'defer' });
  expect(await gl.check(r('203.0.113.5', 'x@nospf.example'))).toMatchObject({ action: 'defer' });
  clock.advance(61);
  expect(await gl.check(r('203.0.114.5', 'x@anyone.example'))).toMatchObject({ action: 'defer' });
  expect(await gl.check(r('203.0.114.5', 'x@nospf.example'))).toMatchObject({ action: 'defer' });
  expect(await gl.check(r('203.0.113.200', 'x@nospf.example'))).toMatchObject({ action: 'pass', reason: 'retry' });
});

it('the same forward-confirmed organisational domain matches across networks; generic PTRs do not', async () => {
  expect(await gl.check(r('203.0.113.9', 'a@nospf.example', 'out-1.mailer.example.org'))).toMatchObject({ action: 'defer' });
  expect(await gl.check(r('203.0.113.9', 'b@nospf.example', '203-0-113-9.dyn.isp.example'))).toMatchObject({ action: 'defer' });
  clock.advance(61);
  expect(await gl.check(r('233.252.0.99', 'a@nospf.example', 'out-7.mailer.example.org'))).toMatchObject({ action: 'pass', reason: 'retry' });
  expect(await gl.check(r('198.18.0.9', 'b@nospf.example', '198-18-0-9.dyn.isp.example'))).toMatchObject({ action: 'defer' });
});

it('SPF answers are cached: repeated decisions do not ask again', async () => {
  const before = dns.queries.filter((q) => q === 'TXT pool.example').length;
  for (let i = 0; i < 20; i++) await gl.check(r('192.0.2.10', `u${i}@pool.example`));
  expect(dns.queries.filter((q) => q === 'TXT pool.example').length).toBe(before);
  expect(before).toBe(1);
});
