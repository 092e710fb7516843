// The SPF DNS client (over @moat/dns) against a loopback server: asks only the configured resolver, caches answers and
// NXDOMAIN, shares in-flight queries, and stays bounded.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCachingDns } from '../src/dns.ts';
import { startTestDns, type TestDns } from './dns-server.ts';

let dns: TestDns;
beforeAll(async () => {
  dns = await startTestDns({
    'a.example': { TXT: ['v=spf1 -all'], A: ['192.0.2.1'] },
    'b.example': { TXT: ['v=spf1 ?all'] },
    'c.example': { TXT: ['v=spf1 ~all'], MX: ['mx.c.example'] },
  });
});
afterAll(() => dns.close());

it('caches, dedupes, caches NXDOMAIN, evicts the oldest past maxEntries', async () => {
  const c = createCachingDns({ server: dns.server, maxEntries: 3 });
  const n = (q: string) => dns.queries.filter((x) => x === q).length;
  const [x, y] = await Promise.all([c.txt('a.example'), c.txt('A.Example.')]);
  expect(x).toEqual({ status: 'ok', data: ['v=spf1 -all'] });
  expect(y).toEqual(x);
  expect(n('TXT a.example')).toBe(1);
  expect(await c.a('a.example')).toEqual({ status: 'ok', data: ['192.0.2.1'] });
  expect(await c.mx('c.example')).toEqual({ status: 'ok', data: ['mx.c.example'] });
  expect(await c.txt('missing.example')).toEqual({ status: 'none' });
  expect(await c.txt('missing.example')).toEqual({ status: 'none' });
  expect(n('TXT missing.example')).toBe(1);
  expect(c.size()).toBe(3);
  await c.txt('a.example'); // evicted by now: asked again
  expect(n('TXT a.example')).toBe(2);
});

it('a dead resolver is an error (unknown), not "no record"', async () => {
  const c = createCachingDns({ server: '127.0.0.1:9', timeoutMs: 200 });
  expect((await c.txt('a.example')).status).toBe('error');
});
