import { afterEach, describe, expect, it } from 'vitest';
import { closedPort, fakeDns, fakeTcpDns, opt, reply, soa, txt } from './fake-dns.test-helper.ts';
import { parseResolver } from './server-address.ts';
import { exchange } from './transport.ts';
import { askTxt, FALL_BACK } from './txt-question.ts';
import { RR } from './wire.ts';

const open: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
async function server(answer: Parameters<typeof fakeDns>[0]) {
  const s = await fakeDns(answer);
  open.push(s);
  return s;
}
const ask = (servers: string[], name = 'spf.example.test', perTryMs = 200) =>
  askTxt(servers.map((s) => parseResolver(s)), name, perTryMs, Date.now() + 10_000);
const failure = (p: Promise<unknown>) => p.then(() => ({ code: 'answered' }), (e: { code: string; syscall?: string; negativeTtl?: number; mixed?: boolean }) => e);
const GOOD = (q: Buffer) => reply(q, { an: [{ type: 16, ttl: 300, rdata: txt('v=spf1 -all') }] });

describe('askTxt: the next server after a failure (like c-ares)', () => {
  it('SERVFAIL, NOTIMP or REFUSED from the first server: the answer of the second', async () => {
    for (const rcode of [2, 4, 5]) {
      const bad = await server((q) => reply(q, { rcode }));
      const good = await server(GOOD);
      expect(await ask([bad.server, good.server])).toEqual({ data: [['v=spf1 -all']], ttl: 300 });
      expect([bad.received(), good.received()]).toEqual([1, 1]);
    }
  });

  it('a closed port (ECONNREFUSED), then a good server: the answer', async () => {
    const good = await server(GOOD);
    expect(await ask([await closedPort(), good.server])).toEqual({ data: [['v=spf1 -all']], ttl: 300 });
  });

  it('all failing: servers x 2 tries, the last failure code, syscall queryTxt', async () => {
    const refused = await server((q) => reply(q, { rcode: 5 }));
    const servfail = await server((q) => reply(q, { rcode: 2 }));
    expect(await failure(ask([refused.server, servfail.server]))).toMatchObject({ code: 'ESERVFAIL', syscall: 'queryTxt' });
    expect([refused.received(), servfail.received()]).toEqual([2, 2]);
    expect(await failure(ask([await closedPort()]))).toMatchObject({ code: 'ECONNREFUSED', syscall: 'queryTxt' });
    const silent = await server(() => undefined);
    expect(await failure(ask([silent.server], 'spf.example.test', 50))).toMatchObject({ code: 'ETIMEOUT', syscall: 'queryTxt' });
    expect(silent.received()).toBe(2);
  });

  it('mixed: one server SERVFAIL, the other silent, ends ESERVFAIL marked mixed (never kept); SERVFAIL from all is not mixed', async () => {
    const silent = await server(() => undefined);
    const servfail = await server((q) => reply(q, { rcode: 2 }));
    expect(await failure(ask([silent.server, servfail.server], 'spf.example.test', 50))).toMatchObject({ code: 'ESERVFAIL', mixed: true });
    const other = await server((q) => reply(q, { rcode: 2 }));
    expect(await failure(ask([servfail.server, other.server]))).toMatchObject({ code: 'ESERVFAIL', mixed: false });
  });

  it('a spent budget asks no more', async () => {
    const silent = await server(() => undefined);
    const p = askTxt([parseResolver(silent.server)], 'spf.example.test', 200, Date.now() - 1);
    expect(await failure(p)).toMatchObject({ code: 'ETIMEOUT' });
    expect(silent.received()).toBe(0);
  });
});

describe('askTxt: what a reply means', () => {
  it('a truncated reply cut mid-record is asked again over TCP of the same server, not a timeout', async () => {
    const s = await server((q) => reply(q, { tc: true, an: [{ type: 16, ttl: 300, rdata: txt('x'.repeat(200)) }] }).subarray(0, -50));
    const tcp = await fakeTcpDns(s.port, (q) => reply(q, { an: [{ type: 16, ttl: 300, rdata: txt('x'.repeat(200)) }] }));
    open.push(tcp);
    expect(await ask([s.server])).toEqual({ data: [['x'.repeat(200)]], ttl: 300 });
    expect([s.received(), tcp.received()]).toEqual([1, 1]);
  });

  it('a truncated reply and no TCP there: the next try, then the failure (never a cut answer)', async () => {
    const s = await server((q) => reply(q, { tc: true }));
    expect(await failure(ask([s.server]))).toMatchObject({ code: 'ECONNREFUSED' });
    expect(s.received()).toBe(2);
  });

  it('FORMERR (an old server and EDNS) goes to c-ares', async () => {
    const s = await server((q) => reply(q, { rcode: 1 }));
    expect(await ask([s.server])).toBe(FALL_BACK);
  });

  it('a referral (NOERROR, RA=0, AA=0, nothing answered) and BADVERS are EBADRESP, not ENODATA', async () => {
    const referral = await server((q) => reply(q, { ra: false, ns: [{ type: 2, ttl: 60, rdata: Buffer.from([0]) }] }));
    expect(await failure(ask([referral.server]))).toMatchObject({ code: 'EBADRESP' });
    const authoritative = await server((q) => reply(q, { ra: false, aa: true, ns: [{ type: 6, ttl: 60, rdata: soa(30) }] }));
    expect(await failure(ask([authoritative.server]))).toMatchObject({ code: 'ENODATA', negativeTtl: 30 });
    const badvers = await server((q) => reply(q, { ar: [opt(1)] }));
    expect(await failure(ask([badvers.server]))).toMatchObject({ code: 'EBADRESP' });
    const good = await server(GOOD);
    expect(await ask([referral.server, good.server])).toMatchObject({ data: [['v=spf1 -all']] });
  });

  it('NXDOMAIN with an SOA carries its negative TTL; without one, 0 (RFC 2308 section 5: not kept)', async () => {
    const withSoa = await server((q) => reply(q, { rcode: 3, ns: [{ type: 6, ttl: 600, rdata: soa(120) }] }));
    expect(await failure(ask([withSoa.server]))).toMatchObject({ code: 'ENOTFOUND', negativeTtl: 120 });
    const bare = await server((q) => reply(q, { rcode: 3 }));
    expect(await failure(ask([bare.server]))).toMatchObject({ code: 'ENOTFOUND', negativeTtl: 0 });
    const nodata = await server((q) => reply(q, {}));
    expect(await failure(ask([nodata.server]))).toMatchObject({ code: 'ENODATA', negativeTtl: 0 });
  });

  it('DNS 0x20: a reply that does not echo the question case is not ours (keep waiting)', async () => {
    const flipped = await server((q) => {
      const r = reply(q, { an: [{ type: 16, ttl: 60, rdata: txt('forged') }] });
      for (let i = 13; r[i] !== 0; i++) if (/[a-z]/i.test(String.fromCharCode(r[i] as number))) r[i] = (r[i] as number) ^ 0x20;
      return r; // every letter's case turned: never what was asked
    });
    expect(await failure(ask([flipped.server], 'spf.example.test', 50))).toMatchObject({ code: 'ETIMEOUT' });
    expect(flipped.received()).toBe(2);
    const echo = await server(GOOD);
    expect(await ask([echo.server], 'spf.example.test')).toMatchObject({ data: [['v=spf1 -all']] });
  });
});

describe('exchange: any type, for the validating lookups of tlspolicy', () => {
  it('asks with AD, reads AD over TCP after truncation; servfailFinal stops at the first SERVFAIL', async () => {
    const withAd = (r: Buffer) => {
      r.writeUInt16BE(r.readUInt16BE(2) | 0x20, 2);
      return r;
    };
    const tlsa = Buffer.from([3, 1, 1, 0xab]);
    const s = await server((q) => (q.readUInt16BE(2) & 0x20 ? reply(q, { tc: true }) : undefined));
    const tcp = await fakeTcpDns(s.port, (q) => withAd(reply(q, { an: [{ type: RR.TLSA, ttl: 60, rdata: tlsa }] })));
    open.push(tcp);
    const opts = { perTryMs: 200, deadline: Date.now() + 10_000, ad: true };
    const p = parseResolver(s.server);
    expect(await exchange([p], '_25._tcp.mx.example.test', RR.TLSA, opts)).toMatchObject({ ad: true, rcode: 0, records: [{ data: tlsa, ttl: 60 }] });
    const bogus = await server((q) => reply(q, { rcode: 2 }));
    const good = await server(GOOD);
    expect(await exchange([parseResolver(bogus.server), parseResolver(good.server)], 'x.example.test', RR.TLSA, { ...opts, servfailFinal: true })).toMatchObject({ rcode: 2 });
    expect([bogus.received(), good.received()]).toEqual([1, 0]);
    expect(await exchange([p], 'bad name!', RR.A, opts)).toBeUndefined();
  });
});
