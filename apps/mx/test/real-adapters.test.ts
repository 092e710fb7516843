// Steps 7-10 with the real adapters: @moat/dnslist through a real Unbound stubbing to a real rbldnsd,
// and @moat/greylist on a real redis-server (delay 1 s). Everything on loopback; Unbound refuses the rest.
import { createDnsList, type DnsList } from '@moat/dnslist';
import { createGreylist, type Greylist } from '@moat/greylist';
import { createLogger, createRegistry } from '@moat/observe';
import { type RbldnsdServer, type RedisServer, SmtpClient, startRbldnsd, startRedis, startUnbound, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDns } from '@moat/dns';
import { startTestMx, type TestMx } from './harness.ts';

let rbldnsd: RbldnsdServer;
let unbound: UnboundServer;
let redis: RedisServer;
let dnslist: DnsList;
let greylist: Greylist;
let t: TestMx;

beforeAll(async () => {
  // every zone lists its RFC 5782 test point, or the client's health check would disable it
  rbldnsd = await startRbldnsd({
    zones: {
      'bl.test': ':127.0.0.2:Listed in bl.test\n127.0.0.2\n203.0.113.66\n203.0.113.77',
      'wl1.test': ':127.0.0.2:wl1\n127.0.0.2\n203.0.113.77',
      'wl2.test': ':127.0.0.2:wl2\n127.0.0.2\n198.51.100.20',
      'dbl.test': { type: 'dnset', data: ':127.0.1.2:Listed in dbl.test\ntest\nspam.example' },
    },
  });
  unbound = await startUnbound({
    stubZones: { 'bl.test': rbldnsd.stubAddr, 'wl1.test': rbldnsd.stubAddr, 'wl2.test': rbldnsd.stubAddr, 'dbl.test': rbldnsd.stubAddr },
  });
  redis = await startRedis();
  const logger = createLogger('test', { level: 'silent' });
  const registry = createRegistry();
  dnslist = createDnsList({ resolver: unbound.server, registry, logger, timeoutMs: 1000, budgetMs: 2000 });
  greylist = createGreylist({ redis: { url: redis.url }, delayMs: 1000, resolver: unbound.server, hostname: 'mx.example.org', registry, logger });
  t = await startTestMx({ ports: { dnslist, greylist }, resolver: createDns({ servers: [unbound.server], timeoutMs: 1000 }) });
}, 90_000);

afterAll(async () => {
  await t?.close();
  await greylist?.close();
  await dnslist?.close();
  await redis?.stop();
  await unbound?.stop();
  await rbldnsd?.stop();
});

async function rcpt(addr: string, sender = 'alice@sender.example'): Promise<string> {
  const c = await SmtpClient.connect(t.port);
  await c.read();
  await c.cmd(`XCLIENT ADDR=${addr}`);
  await c.cmd('EHLO mail.sender.example');
  await c.cmd(`MAIL FROM:<${sender}>`);
  const r = await c.cmd('RCPT TO:<rcpt@example.org>');
  await c.quit();
  return `${r.code} ${r.text}`;
}

describe('steps 7-10 with real DNS lists and a real greylist', () => {
  it('7. DNSWL first: listed in wl1.test and bl.test, accepted', async () => {
    expect(await rcpt('203.0.113.77')).toBe('250 2.1.5 Accepted');
  });

  it('8. DNSBL: client and sender domain refused with the zone named', async () => {
    expect(await rcpt('203.0.113.66')).toBe('554 5.7.1 Service unavailable; Client host [203.0.113.66] blocked using bl.test; Listed in bl.test');
    expect(await rcpt('203.0.113.10', 'x@spam.example')).toMatch(/^554 5\.7\.1 Service unavailable; Sender address \[spam\.example\] blocked using dbl\.test/);
  });

  it('9. second DNSWL skips greylisting', async () => {
    expect(await rcpt('198.51.100.20')).toBe('250 2.1.5 Accepted');
  });

  it('10. greylist in redis: 450 first, accepted after the delay with X-Greylist on the message', async () => {
    expect(await rcpt('192.0.2.200')).toMatch(/^450 4\.7\.1 <rcpt@example\.org>: Recipient address rejected: Greylisted/);
    await new Promise((ok) => setTimeout(ok, 1500));
    const c = await SmtpClient.connect(t.port);
    await c.read();
    await c.cmd('XCLIENT ADDR=192.0.2.200');
    await c.cmd('EHLO mail.sender.example');
    await c.cmd('MAIL FROM:<alice@sender.example>');
    expect((await c.cmd('RCPT TO:<rcpt@example.org>')).code).toBe(250);
    const n = t.enqueued.length;
    expect((await c.data('Subject: retry\r\n\r\nhello\r\n')).code).toBe(250);
    await c.quit();
    expect(t.enqueued[n]?.prepend?.some((h) => h.startsWith('X-Greylist: '))).toBe(true);
  });
});
