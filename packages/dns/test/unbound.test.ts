// The one DNS client against a real Unbound recursing to a real nsd: the caching rule (answers within their
// TTL, NXDOMAIN/NODATA for the negative time, SERVFAIL 5 s, timeouts never), the timeout rule, SERVFAIL as unknown.
import { createSocket, type Socket } from 'node:dgram';
import { type BlackholeDns, type NsdServer, startBlackholeDns, startNsd, startUnbound, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDns, dnsFailureKind } from '../src/index.ts';

const ZONE = `$ORIGIN dns.moat.test.
$TTL 60
@ IN SOA ns.dns.moat.test. admin.dns.moat.test. 1 3600 600 86400 60
@ IN NS ns.dns.moat.test.
ns IN A 127.0.0.1
host IN A 192.0.2.10
host IN AAAA 2001:db8::10
short 1 IN A 192.0.2.11
@ IN MX 10 mx.dns.moat.test.
@ IN TXT "v=spf1 -all"
`;

// A zone whose negative answers say (RFC 2308) min(SOA TTL 600, MINIMUM 120) = 120 s; `brief.` one 5 s.
const NEG = `$ORIGIN neg.moat.test.
$TTL 600
@ IN SOA ns.neg.moat.test. admin.neg.moat.test. 1 3600 600 86400 120
@ IN NS ns.neg.moat.test.
ns IN A 127.0.0.1
host IN A 192.0.2.20
spf 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
big IN TXT "x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00x00" "x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01x01" "x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02x02" "x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03x03" "x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04x04" "x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05x05" "x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06x06" "x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07x07" "x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08x08" "x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09x09" "x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10x10" "x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11x11"
`;
const BRIEF = `$ORIGIN brief.moat.test.
$TTL 600
@ IN SOA ns.brief.moat.test. admin.brief.moat.test. 1 3600 600 86400 5
@ IN NS ns.brief.moat.test.
ns IN A 127.0.0.1
`;

/** A UDP relay in front of Unbound that counts the questions reaching it (the client's cache misses). */
async function countingRelay(target: number): Promise<{ server: string; count: () => number; close: () => void }> {
  const front = createSocket('udp4');
  let n = 0;
  const back = new Map<number, { port: number; address: string }>();
  const up: Socket = createSocket('udp4');
  front.on('message', (msg, rinfo) => {
    n++;
    back.set(msg.readUInt16BE(0), rinfo);
    up.send(msg, target, '127.0.0.1');
  });
  up.on('message', (msg) => {
    const to = back.get(msg.readUInt16BE(0));
    if (to) front.send(msg, to.port, to.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => up.bind(0, '127.0.0.1', r));
  return {
    server: `127.0.0.1:${front.address().port}`,
    count: () => n,
    close() {
      front.close();
      up.close();
    },
  };
}

let nsd: NsdServer;
let unbound: UnboundServer;
let hole: BlackholeDns;
let relay: Awaited<ReturnType<typeof countingRelay>>;
beforeAll(async () => {
  nsd = await startNsd({ zones: { 'dns.moat.test': ZONE, 'neg.moat.test': NEG, 'brief.moat.test': BRIEF } });
  hole = await startBlackholeDns();
  // nsd refuses lame.moat.test (not its zone): Unbound answers SERVFAIL
  unbound = await startUnbound({
    stubZones: { 'dns.moat.test': nsd.stubAddr, 'neg.moat.test': nsd.stubAddr, 'brief.moat.test': nsd.stubAddr, 'lame.moat.test': nsd.stubAddr },
  });
  relay = await countingRelay(unbound.port);
});
afterAll(async () => {
  relay?.close();
  await unbound?.stop();
  await nsd?.stop();
  await hole?.stop();
});

const code = (p: Promise<unknown>) => p.then(() => 'answered', (e: { code?: string }) => e.code);

describe('caching rule', () => {
  it('an answer is kept: the second question never reaches the resolver; names are case-blind', async () => {
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000 });
    const before = relay.count();
    expect(await dns.resolve4('host.dns.moat.test')).toEqual(['192.0.2.10']);
    expect(await dns.resolve4('HOST.dns.moat.test.')).toEqual(['192.0.2.10']);
    expect(await dns.resolve('host.dns.moat.test', 'AAAA')).toEqual(['2001:db8::10']);
    expect(await dns.resolveMx('dns.moat.test')).toMatchObject([{ exchange: 'mx.dns.moat.test', priority: 10 }]);
    expect(await dns.resolveTxt('dns.moat.test')).toEqual([['v=spf1 -all']]);
    await dns.resolveTxt('dns.moat.test');
    expect(relay.count() - before).toBe(4); // A, AAAA, MX, TXT once each
    expect(dns.size()).toBe(4);
  });

  it('never past the TTL: an answer with TTL 1 s is asked again after it', async () => {
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000 });
    const before = relay.count();
    await dns.resolve4('short.dns.moat.test');
    await new Promise((r) => setTimeout(r, 1100));
    await dns.resolve4('short.dns.moat.test');
    expect(relay.count() - before).toBe(2);
  });

  it('NXDOMAIN and NODATA are answers: kept for the negative time, then asked again', async () => {
    let t = 1_000_000;
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000, cache: { negativeMs: 30_000, now: () => t } });
    const before = relay.count();
    expect(await code(dns.resolve4('missing.dns.moat.test'))).toBe('ENOTFOUND');
    expect(await code(dns.resolve4('missing.dns.moat.test'))).toBe('ENOTFOUND');
    expect(await code(dns.resolve6('short.dns.moat.test'))).toBe('ENODATA');
    expect(await code(dns.resolve6('short.dns.moat.test'))).toBe('ENODATA');
    expect(relay.count() - before).toBe(2);
    t += 30_001;
    expect(await code(dns.resolve4('missing.dns.moat.test'))).toBe('ENOTFOUND');
    expect(relay.count() - before).toBe(3);
    expect(dnsFailureKind({ code: 'ENOTFOUND' })).toBe('none');
  });

  it('SERVFAIL is unknown and kept 5 s only; identical questions in flight share one query', async () => {
    let t = 1_000_000;
    const dns = createDns({ servers: [relay.server], timeoutMs: 3000, cache: { now: () => t } });
    const before = relay.count();
    const [a, b] = await Promise.all([code(dns.resolve4('x.lame.moat.test')), code(dns.resolve4('x.lame.moat.test'))]);
    expect([a, b]).toEqual(['ESERVFAIL', 'ESERVFAIL']);
    expect(dnsFailureKind({ code: a })).toBe('servfail');
    const once = relay.count() - before;
    expect(await code(dns.resolve4('x.lame.moat.test'))).toBe('ESERVFAIL');
    expect(relay.count() - before).toBe(once); // held (RFC 2308 7.1)
    t += 5001;
    expect(await code(dns.resolve4('x.lame.moat.test'))).toBe('ESERVFAIL');
    expect(relay.count() - before).toBeGreaterThan(once);
  });

  it('a SERVFAIL is never kept where the memo is told so (failureMs 0)', async () => {
    const dns = createDns({ servers: [relay.server], timeoutMs: 3000, cache: { failureMs: 0 } });
    const before = relay.count();
    expect(await code(dns.resolve4('y.lame.moat.test'))).toBe('ESERVFAIL');
    const once = relay.count() - before;
    expect(await code(dns.resolve4('y.lame.moat.test'))).toBe('ESERVFAIL');
    expect(relay.count() - before).toBeGreaterThan(once);
    expect(dns.size()).toBe(0);
  });

  it('fresh asks past the memo (health probes)', async () => {
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000 });
    await dns.resolve4('host.dns.moat.test');
    const before = relay.count();
    expect(await dns.fresh.resolve4('host.dns.moat.test')).toEqual(['192.0.2.10']);
    expect(relay.count() - before).toBe(1);
  });
});

describe('negative answers by their SOA (RFC 2308), TXT questions', () => {
  it('NXDOMAIN and NODATA are kept min(SOA TTL, MINIMUM): 120 s here, not the fixed 30 s', async () => {
    let t = 2_000_000;
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000, cache: { negativeMs: 30_000, now: () => t } });
    const before = relay.count();
    expect(await code(dns.resolveTxt('nobody.neg.moat.test'))).toBe('ENOTFOUND');
    expect(await code(dns.resolve('host.neg.moat.test', 'TXT'))).toBe('ENODATA');
    expect(relay.count() - before).toBe(2);
    t += 119_000; // past the fixed 30 s, within the zone's 120 s
    expect(await code(dns.resolveTxt('nobody.neg.moat.test'))).toBe('ENOTFOUND');
    expect(await code(dns.resolveTxt('host.neg.moat.test'))).toBe('ENODATA');
    expect(relay.count() - before).toBe(2);
    t += 2_000;
    expect(await code(dns.resolveTxt('nobody.neg.moat.test'))).toBe('ENOTFOUND');
    expect(relay.count() - before).toBe(3);
  });

  it('a short SOA MINIMUM shortens it (5 s), and the cap bounds a long one', async () => {
    let t = 3_000_000;
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000, cache: { negativeMaxMs: 60_000, now: () => t } });
    const before = relay.count();
    await code(dns.resolveTxt('gone.brief.moat.test'));
    await code(dns.resolveTxt('gone2.neg.moat.test'));
    t += 6_000;
    await code(dns.resolveTxt('gone.brief.moat.test'));
    expect(relay.count() - before).toBe(3); // the 5 s one was asked again
    t += 55_000; // 61 s: past the 60 s cap, within the zone's 120 s
    expect(await code(dns.resolveTxt('gone2.neg.moat.test'))).toBe('ENOTFOUND');
    expect(relay.count() - before).toBe(4);
  });

  it('a TXT answer is read on the wire as node:dns gives it, and kept within its TTL', async () => {
    let t = 4_000_000;
    const dns = createDns({ servers: [relay.server], timeoutMs: 2000, cache: { answerMs: 600_000, now: () => t } });
    const before = relay.count();
    const plain = createDns({ servers: [relay.server], timeoutMs: 2000, cache: false });
    expect(await dns.resolveTxt('spf.neg.moat.test')).toEqual(await plain.resolveTxt('spf.neg.moat.test'));
    expect(await dns.resolveTxt('spf.neg.moat.test')).toEqual([['v=spf1 ip4:192.0.2.0/24 -all']]);
    expect(relay.count() - before).toBe(2); // ours once, c-ares once
    t += 301_000; // past the record's 300 s
    await dns.resolveTxt('spf.neg.moat.test');
    expect(relay.count() - before).toBe(3);
  });

  it('an answer too big for one datagram (truncated) is asked again over TCP by the wire transport itself', async () => {
    const dns = createDns({ servers: [unbound.server], timeoutMs: 3000 }); // the relay carries UDP only
    const [rr] = await dns.resolveTxt('big.neg.moat.test');
    expect(rr).toHaveLength(12);
    expect(rr?.join('')).toHaveLength(12 * 180);
    expect(rr?.[11]).toBe('x11'.repeat(60));
  });

  it('a SERVFAIL on the wire is unknown and kept 5 s only', async () => {
    let t = 1_000_000;
    const dns = createDns({ servers: [relay.server], timeoutMs: 3000, cache: { now: () => t } });
    expect(await code(dns.resolveTxt('x.lame.moat.test'))).toBe('ESERVFAIL');
    expect(dns.size()).toBe(1);
    t += 5001;
    const before = relay.count();
    expect(await code(dns.resolveTxt('x.lame.moat.test'))).toBe('ESERVFAIL');
    expect(relay.count()).toBeGreaterThan(before);
  });
});

describe('timeout rule', () => {
  it('a TXT question to a resolver that never answers: two tries, ETIMEOUT, never cached', async () => {
    const dns = createDns({ servers: [hole.server], timeoutMs: 300 });
    const before = hole.received();
    expect(await code(dns.resolveTxt('host.dns.moat.test'))).toBe('ETIMEOUT');
    expect(hole.received() - before).toBe(2);
    expect(dns.size()).toBe(0);
  });

  it('a resolver that never answers is a timeout (unknown), two tries, never cached', async () => {
    const dns = createDns({ servers: [hole.server], timeoutMs: 300 });
    const before = hole.received();
    expect(await code(dns.resolve4('host.dns.moat.test'))).toBe('ETIMEOUT');
    expect(dnsFailureKind({ code: 'ETIMEOUT' })).toBe('timeout');
    expect(hole.received() - before).toBe(2);
    expect(dns.size()).toBe(0);
  });

  it('only IP resolvers: a host name is refused, and no servers at all too', () => {
    expect(() => createDns({ servers: ['unbound:53'], timeoutMs: 100 })).toThrow(/IP address/);
    expect(() => createDns({ servers: [], timeoutMs: 100 })).toThrow(/no resolver/);
  });
});
