// The resolver's answer cache: kept for the TTL the resolver gave (records) or the SOA's negative TTL
// (NXDOMAIN), asked once for concurrent identical questions, never kept when the lookup failed.
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, expect, it } from 'vitest';
import { DnsLookupError, wireResolver } from './secure-resolver.ts';

let server: Socket | undefined;
afterEach(() => server?.close());

/** A loopback DNS server: TXT answers with `ttl`, NXDOMAIN with an SOA (TTL 300, MINIMUM 30) for names starting with "nx", SERVFAIL for "bad". */
async function dns(ttl: number): Promise<{ at: string; asked: string[] }> {
  const asked: string[] = [];
  const s = createSocket('udp4');
  server = s;
  s.on('message', (q, peer) => {
    let end = 12;
    while (q[end] !== 0) end += 1 + q[end]!;
    const question = q.subarray(12, end + 5);
    const name = q.subarray(13, 13 + q[12]!).toString().toLowerCase(); // DNS 0x20: asked in random case
    asked.push(name);
    const head = Buffer.alloc(12);
    head.writeUInt16BE(q.readUInt16BE(0), 0);
    head.writeUInt16BE(1, 4);
    const rr = (type: number, t: number, rdata: Buffer) => {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(type, 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt32BE(t, 4);
      fixed.writeUInt16BE(rdata.length, 8);
      return Buffer.concat([Buffer.from([0xc0, 12]), fixed, rdata]);
    };
    let body: Buffer;
    if (name.startsWith('bad')) {
      head.writeUInt16BE(0x8182, 2);
      body = Buffer.alloc(0);
    } else if (name.startsWith('nx')) {
      head.writeUInt16BE(0x81a3, 2);
      head.writeUInt16BE(1, 8);
      const soa = Buffer.alloc(22);
      soa.writeUInt32BE(30, 18); // MINIMUM
      body = rr(6, 300, soa);
    } else {
      head.writeUInt16BE(0x81a0, 2);
      head.writeUInt16BE(1, 6);
      body = rr(16, ttl, Buffer.from('\x05hello'));
    }
    s.send(Buffer.concat([head, question, body]), peer.port, peer.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { at: `127.0.0.1:${s.address().port}`, asked };
}

it('keeps an answer for its TTL and asks again after it', async () => {
  const d = await dns(60);
  let t = 1_000_000;
  const r = wireResolver([d.at], { cacheEntries: 100, now: () => t });
  expect(await r.txt('a.example.test')).toEqual({ secure: true, records: ['hello'] });
  expect(await r.txt('A.example.test')).toEqual({ secure: true, records: ['hello'] });
  expect(d.asked).toEqual(['a']);
  t += 59_000;
  await r.txt('a.example.test');
  expect(d.asked).toEqual(['a']);
  t += 2_000;
  await r.txt('a.example.test');
  expect(d.asked).toEqual(['a', 'a']);
});

it('keeps NXDOMAIN for the SOA negative TTL, asks once for concurrent questions, keeps no failure', async () => {
  const d = await dns(60);
  let t = 0;
  const r = wireResolver([d.at], { cacheEntries: 100, now: () => t });
  const [x, y] = await Promise.all([r.txt('nx.example.test'), r.txt('nx.example.test')]);
  expect(x).toEqual({ secure: true, records: [] });
  expect(y).toEqual(x);
  expect(d.asked).toEqual(['nx']);
  t += 29_000;
  await r.txt('nx.example.test');
  expect(d.asked).toEqual(['nx']);
  t += 2_000; // past min(300, MINIMUM 30)
  await r.txt('nx.example.test');
  expect(d.asked).toEqual(['nx', 'nx']);
  await expect(r.txt('bad.example.test')).rejects.toBeInstanceOf(DnsLookupError);
  await expect(r.txt('bad.example.test')).rejects.toBeInstanceOf(DnsLookupError);
  expect(d.asked.filter((n) => n === 'bad')).toHaveLength(2);
});

it('keeps nothing by default, nor answers with TTL 0', async () => {
  const d = await dns(0);
  await wireResolver([d.at], { cacheEntries: 100 }).txt('z.example.test').then((a) => expect(a.records).toEqual(['hello']));
  const plain = wireResolver([d.at]);
  await plain.txt('a.example.test');
  await plain.txt('a.example.test');
  const zero = wireResolver([d.at], { cacheEntries: 100 });
  await zero.txt('z.example.test');
  expect(d.asked).toEqual(['z', 'a', 'a', 'z']);
});

it('an address literal has no records (no DANE for it) and asks nothing; a name no resolver could hold fails', async () => {
  const d = await dns(60);
  const r = wireResolver([d.at]);
  expect(await r.hostAddresses('2001:db8::1')).toEqual({ secure: false, records: [] });
  expect(await r.tlsa('192.0.2.1')).toEqual({ secure: false, records: [] });
  await expect(r.txt(`${'x'.repeat(64)}.example.test`)).rejects.toMatchObject({ kind: 'failed' });
  expect(d.asked).toEqual([]);
});

it('SERVFAIL (a validating resolver on bogus data) is asked once, not again of the next try', async () => {
  const d = await dns(60);
  await expect(wireResolver([d.at]).tlsa('bad.example.test')).rejects.toMatchObject({ kind: 'servfail' });
  expect(d.asked).toEqual(['bad']);
});
