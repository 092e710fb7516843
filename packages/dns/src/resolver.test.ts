import { createServer, type Server } from 'node:net';
import { createRegistry } from '@moat/observe';
import { afterEach, describe, expect, it } from 'vitest';
import { closedPort, fakeDns, reply, soa } from './fake-dns.test-helper.ts';
import { createDns } from './resolver.ts';

const open: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
const code = (p: Promise<unknown>) => p.then(() => 'answered', (e: { code?: string }) => e.code);

/** A TCP listener on `port` that takes connections and never answers; undefined when the port is taken. */
function silentTcp(port: number): Promise<{ server: Server; connections: () => number } | undefined> {
  const server = createServer((c) => {
    n++;
    c.on('error', () => {});
    open.push({ close: async () => void c.destroy() });
  });
  let n = 0;
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
      resolve({ server, connections: () => n });
    });
  });
}

describe('createDns TXT on the wire', () => {
  it('the TCP fallback after a truncated reply stays within the question budget', async () => {
    // the first datagram is lost, the second try gets TC; TCP on the same port accepts and never answers
    let tcp: Awaited<ReturnType<typeof silentTcp>>;
    let udp: Awaited<ReturnType<typeof fakeDns>>;
    do {
      udp = await fakeDns((q, n) => (n === 0 ? undefined : reply(q, { tc: true })));
      open.push(udp);
      tcp = await silentTcp(udp.port);
    } while (!tcp);
    const timeoutMs = 6000;
    const dns = createDns({ servers: [udp.server], timeoutMs });
    const started = Date.now();
    expect(await code(dns.resolveTxt('big.example.test'))).toBe('ETIMEOUT');
    const took = Date.now() - started;
    expect(tcp.connections()).toBeGreaterThan(0); // c-ares asked over TCP
    // before: the UDP tries (a third of the budget) plus a whole budget more for c-ares (~8000 ms); the margin is
    // for a loaded CI machine
    expect(took).toBeLessThan(timeoutMs + 1300);
    expect(dns.size()).toBe(0);
  });

  it('a negative reply without an SOA is not kept (RFC 2308 section 5); with one, for its negative TTL', async () => {
    const bare = await fakeDns((q) => reply(q, { rcode: 3 }));
    const withSoa = await fakeDns((q) => reply(q, { rcode: 3, ns: [{ type: 6, ttl: 600, rdata: soa(120) }] }));
    open.push(bare, withSoa);
    const a = createDns({ servers: [bare.server], timeoutMs: 2000 });
    expect(await code(a.resolveTxt('gone.example.test'))).toBe('ENOTFOUND');
    expect(await code(a.resolveTxt('gone.example.test'))).toBe('ENOTFOUND');
    expect(bare.received()).toBe(2);
    const b = createDns({ servers: [withSoa.server], timeoutMs: 2000 });
    expect(await code(b.resolveTxt('gone.example.test'))).toBe('ENOTFOUND');
    expect(await code(b.resolveTxt('gone.example.test'))).toBe('ENOTFOUND');
    expect(withSoa.received()).toBe(1);
  });

  it('held() answers from the memo only: nothing before a question, the kept answer after it, none once expired', async () => {
    const server = await fakeDns((q) => reply(q, { rcode: 3, ns: [{ type: 6, ttl: 600, rdata: soa(120) }] }));
    open.push(server);
    let now = 1_000_000;
    const dns = createDns({ servers: [server.server], timeoutMs: 2000, cache: { now: () => now } });
    expect(dns.held('TXT', 'gone.example.test')).toBeUndefined();
    expect(await code(dns.resolveTxt('gone.example.test'))).toBe('ENOTFOUND');
    expect(server.received()).toBe(1);
    // the same key as resolveTxt: case and a trailing dot do not matter
    expect(dns.held('TXT', 'Gone.Example.Test.')).toMatchObject({ error: { code: 'ENOTFOUND' } });
    expect(dns.held('A', 'gone.example.test')).toBeUndefined();
    now += 121_000;
    expect(dns.held('TXT', 'gone.example.test')).toBeUndefined();
    expect(server.received()).toBe(1);
  });
});

describe('createDns keeps a resolver failure briefly', () => {
  it('SERVFAIL and REFUSED are kept 5 s (RFC 2308 7.1), then asked again; the error carries no stack', async () => {
    let t = 1_000_000;
    for (const rcode of [2, 5]) {
      const server = await fakeDns((q) => reply(q, { rcode }));
      open.push(server);
      const dns = createDns({ servers: [server.server], timeoutMs: 2000, cache: { now: () => t } });
      const first = await dns.resolveTxt('sick.example.test').catch((e: Error & { code?: string }) => e);
      expect((first as { code?: string }).code).toBe(rcode === 2 ? 'ESERVFAIL' : 'EREFUSED');
      expect((first as Error).stack?.split('\n')).toHaveLength(1);
      const asked = server.received();
      expect(await code(dns.resolveTxt('sick.example.test'))).toBe((first as { code?: string }).code);
      expect(server.received()).toBe(asked);
      t += 5001;
      await code(dns.resolveTxt('sick.example.test'));
      expect(server.received()).toBeGreaterThan(asked);
    }
  });
});

describe('createDns keeps a failure only when every try got it', () => {
  it('a SERVFAIL after another server refused the connection is not kept: the next question asks again', async () => {
    const servfail = await fakeDns((q) => reply(q, { rcode: 2 }));
    open.push(servfail);
    const dns = createDns({ servers: [await closedPort(), servfail.server], timeoutMs: 2000 });
    expect(await code(dns.resolveTxt('half.example.test'))).toBe('ESERVFAIL');
    const asked = servfail.received();
    await code(dns.resolveTxt('half.example.test'));
    expect(servfail.received()).toBeGreaterThan(asked);
  });

  it('a held SERVFAIL through held(): the same error as the asking path, no second query', async () => {
    const servfail = await fakeDns((q) => reply(q, { rcode: 2 }));
    open.push(servfail);
    const dns = createDns({ servers: [servfail.server], timeoutMs: 2000 });
    expect(dns.held('TXT', 'sick.example.test')).toBeUndefined();
    const first = await dns.resolveTxt('sick.example.test').catch((e: unknown) => e);
    const asked = servfail.received();
    expect(dns.held('TXT', 'sick.example.test')).toEqual({ error: first });
    expect((first as { code?: string }).code).toBe('ESERVFAIL');
    expect(servfail.received()).toBe(asked);
  });

  it('counts and logs every kept failure served (by ask or held), by kind', async () => {
    const servfail = await fakeDns((q) => reply(q, { rcode: 2 }));
    open.push(servfail);
    const registry = createRegistry();
    const lines: unknown[] = [];
    const dns = createDns({ servers: [servfail.server], timeoutMs: 2000, registry, logger: { debug: (o: unknown) => lines.push(o) } as never });
    await code(dns.resolveTxt('sick.example.test')); // asked: not served from the memo
    await code(dns.resolveTxt('sick.example.test'));
    dns.held('TXT', 'sick.example.test');
    const metric = await registry.getSingleMetric('moat_dns_held_failures_total')?.get();
    expect(metric?.values).toEqual([expect.objectContaining({ labels: { kind: 'servfail' }, value: 2 })]);
    expect(lines).toEqual([
      { event: 'dns-held-failure', question: 'TXT sick.example.test', code: 'ESERVFAIL' },
      { event: 'dns-held-failure', question: 'TXT sick.example.test', code: 'ESERVFAIL' },
    ]);
  });
});
