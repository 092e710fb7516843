// SPF pool matching through Unbound (the appliance's bundled resolver), with the records as local-data.
// Unbound refuses everything else ("." refuse), so nothing leaves loopback.
import { createRegistry } from '@moat/observe';
import { type RedisServer, startRedis, startUnbound, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createGreylist, type Greylist } from '../src/index.ts';
import { settableClock, silentLogger } from './helpers.ts';

let redis: RedisServer;
let unbound: UnboundServer;
let gl: Greylist;
const clock = settableClock();

beforeAll(async () => {
  redis = await startRedis();
  unbound = await startUnbound({
    stubZones: {},
    localZones: { 'esp.example': 'static' },
    localData: [
      'esp.example. 300 IN TXT "v=spf1 include:_netblocks.esp.example -all"',
      '_netblocks.esp.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 " "ip6:2001:db8:e5::/48 ~all"',
    ],
  });
  gl = createGreylist({ redis: { url: redis.url }, resolver: unbound.server, clock, timeoutMs: 5000, registry: createRegistry(), logger: silentLogger() });
  await gl.ping();
});
afterAll(async () => {
  await gl?.close();
  await unbound?.stop();
  await redis?.stop();
});

it('an ESP retrying from another network of its SPF record is delayed once, not again', async () => {
  const r = (clientAddress: string) => ({ clientAddress, sender: 'bounce-77@esp.example', recipient: 'bob@rcpt.example' });
  expect(await gl.check(r('192.0.2.44'))).toMatchObject({ action: 'defer', retryAfter: 60 });
  clock.advance(300);
  expect(await gl.check(r('198.51.100.201'))).toMatchObject({ action: 'pass', reason: 'retry' });
  expect(await gl.check(r('2001:db8:e5:9::1'))).toMatchObject({ action: 'pass', reason: 'known' });
  // A domain Unbound refuses: SPF is unknown, the identity falls back to the network.
  const other = { clientAddress: '203.0.113.4', sender: 'a@elsewhere.example', recipient: 'bob@rcpt.example' };
  expect(await gl.check(other)).toMatchObject({ action: 'defer' });
  expect((await gl.inspect(other)).identity).toBe('net:203.0.113.0/24');
});
