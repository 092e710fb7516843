import { describe, expect, it } from 'vitest';
import { opt, reply, soa, txt } from './fake-dns.test-helper.ts';
import { encodeQuery, encodeQuestion, parseReply, RR, randomCase, TYPE_TXT, txtChunks } from './wire.ts';

// Unbound's NXDOMAIN for `nope.neg.moat.test TXT` (captured): authority SOA with TTL 120, MINIMUM 120.
const NX = Buffer.from(
  'a05881830001000000010000046e6f7065036e6567046d6f617404746573740000100001c01100060001000000780021026e73c0110561646d696ec0110000000100000e10000002580001518000000078',
  'hex',
);

describe('wire', () => {
  it('encodes a plain name, refuses what c-ares should handle', () => {
    const q = encodeQuestion('nope.neg.moat.test.', TYPE_TXT);
    expect(q?.toString('hex')).toBe('046e6f7065036e6567046d6f6174047465737400' + '00100001');
    expect(encodeQuestion('a..b', TYPE_TXT)).toBeUndefined();
    expect(encodeQuestion('bad name.example', TYPE_TXT)).toBeUndefined();
    expect(encodeQuestion(`${'a'.repeat(64)}.example`, TYPE_TXT)).toBeUndefined();
    expect(encodeQuestion('ex\u00e4mple.test', TYPE_TXT)).toBeUndefined();
    const m = encodeQuery(0x1234, q as Buffer);
    expect(m.readUInt16BE(0)).toBe(0x1234);
    expect(m.readUInt16BE(10)).toBe(1); // the OPT record
  });

  it('reads the SOA of a negative answer as min(TTL, MINIMUM)', () => {
    const q = encodeQuestion('nope.neg.moat.test', TYPE_TXT) as Buffer;
    const r = parseReply(NX, 0xa058, q);
    expect(r).toMatchObject({ rcode: 3, tc: false, records: [], negativeTtl: 120 });
    const lower = Buffer.from(NX);
    lower.writeUInt32BE(30, lower.length - 4); // MINIMUM 30 < TTL 120
    expect(parseReply(lower, 0xa058, q)?.negativeTtl).toBe(30);
  });

  it('is not a reply: another id, another question, a cut message', () => {
    const q = encodeQuestion('nope.neg.moat.test', TYPE_TXT) as Buffer;
    expect(parseReply(NX, 1, q)).toBeUndefined();
    expect(parseReply(NX, 0xa058, encodeQuestion('other.neg.moat.test', TYPE_TXT) as Buffer)).toBeUndefined();
    for (let cut = 0; cut < NX.length; cut += 7) expect(parseReply(NX.subarray(0, cut), 0xa058, q)).toBeUndefined();
  });

  it('TXT character-strings as node:dns gives them; damaged ones refused', () => {
    expect(txtChunks(Buffer.from('\x03abc\x00\x02de', 'latin1'))).toEqual(['abc', '', 'de']);
    expect(txtChunks(Buffer.from('\x05ab', 'latin1'))).toBeUndefined();
  });

  it('refuses a name longer than 255 octets encoded (RFC 1035 2.3.4)', () => {
    const label = 'a'.repeat(63);
    expect(encodeQuestion([label, label, label, 'a'.repeat(61)].join('.'), TYPE_TXT)).toBeDefined(); // 255
    expect(encodeQuestion([label, label, label, 'a'.repeat(62)].join('.'), TYPE_TXT)).toBeUndefined(); // 256
  });

  it('a truncated reply is {tc} as soon as id, flags and question match, even cut mid-record', () => {
    const q = encodeQuestion('big.example.test', TYPE_TXT) as Buffer;
    const full = reply(encodeQuery(7, q), { tc: true, an: [{ type: 16, ttl: 60, rdata: txt('x'.repeat(200)) }] });
    for (const cut of [full.length, full.length - 100, 12 + q.length + 3]) expect(parseReply(full.subarray(0, cut), 7, q)).toMatchObject({ tc: true });
    expect(parseReply(full, 8, q)).toBeUndefined();
  });

  it('TTLs: the top bit set counts as 0 (RFC 2181 8), also an SOA MINIMUM; CNAMEs bound the answer TTL', () => {
    const q = encodeQuestion('x.example.test', TYPE_TXT) as Buffer;
    const query = encodeQuery(9, q);
    const top = parseReply(reply(query, { an: [{ type: 16, ttl: 0x80000005, rdata: txt('a') }] }), 9, q);
    expect(top).toMatchObject({ ttl: 0, records: [{ data: txt('a'), ttl: 0 }] });
    const neg = parseReply(reply(query, { rcode: 3, ns: [{ type: 6, ttl: 600, rdata: soa(0x80000000) }] }), 9, q);
    expect(neg?.negativeTtl).toBe(0);
    const cname = { type: 5, ttl: 40, rdata: Buffer.from([0]) };
    expect(parseReply(reply(query, { an: [cname, { type: 16, ttl: 300, rdata: txt('a') }] }), 9, q)?.ttl).toBe(40);
  });

  it('the full rcode: BADVERS (16) from the OPT record, RA and AA as sent', () => {
    const q = encodeQuestion('x.example.test', TYPE_TXT) as Buffer;
    const query = encodeQuery(3, q);
    expect(parseReply(reply(query, { ar: [opt(1)] }), 3, q)).toMatchObject({ rcode: 16, ra: true });
    expect(parseReply(reply(query, { ra: false }), 3, q)).toMatchObject({ rcode: 0, ra: false, aa: false });
    expect(parseReply(reply(query, { aa: true }), 3, q)).toMatchObject({ aa: true });
  });

  it('DNS 0x20: the name in random case, letters only; a reply must echo it exactly', () => {
    const q = encodeQuestion('_dmarc.ex-4.test', TYPE_TXT) as Buffer;
    const seen = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const m = randomCase(q);
      expect(m.toString('latin1').toLowerCase()).toBe(q.toString('latin1'));
      seen.add(m.toString('latin1'));
    }
    expect(seen.size).toBeGreaterThan(1);
    const mixed = Buffer.from(q);
    mixed[2] = 0x44; // _Dmarc
    const r = reply(encodeQuery(5, mixed), { rcode: 3 });
    expect(parseReply(r, 5, mixed)).toMatchObject({ rcode: 3 });
    expect(parseReply(r, 5, q)).toBeUndefined(); // case changed on the way: not our reply
  });

  it('asks with AD when told (RD+AD, 0x0120) and reads AD from the reply', () => {
    const q = encodeQuestion('_25._tcp.mx.example.test', RR.TLSA) as Buffer;
    expect(encodeQuery(7, q, { ad: true }).readUInt16BE(2)).toBe(0x0120);
    expect(encodeQuery(7, q).readUInt16BE(2)).toBe(0x0100);
    const r = reply(encodeQuery(7, q, { ad: true }), {});
    r.writeUInt16BE(r.readUInt16BE(2) | 0x20, 2);
    expect(parseReply(r, 7, q)).toMatchObject({ ad: true, rcode: 0 });
    expect(parseReply(reply(encodeQuery(7, q), { rcode: 2 }), 7, q)).toMatchObject({ ad: false, rcode: 2 });
  });

  it('MX and CNAME targets decompressed, lower case; a target pointing at itself is damaged, not "none"', () => {
    const q = encodeQuestion('Example.test', RR.MX) as Buffer; // the name at offset 12, "test" at offset 20
    const mx = Buffer.concat([Buffer.from([0, 10, 4]), Buffer.from('MAIL'), Buffer.from([0xc0, 20])]);
    const r = reply(encodeQuery(9, q), { an: [{ type: RR.MX, ttl: 60, rdata: mx }] });
    expect(parseReply(r, 9, q)?.records).toEqual([{ data: mx, ttl: 60, preference: 10, target: 'mail.test' }]);
    const c = encodeQuestion('www.example.test', RR.CNAME) as Buffer;
    const cname = Buffer.from([0xc0, 16]); // example.test inside the question
    expect(parseReply(reply(encodeQuery(9, c), { an: [{ type: RR.CNAME, ttl: 60, rdata: cname }] }), 9, c)?.records[0]).toMatchObject({ target: 'example.test' });
    const base = reply(encodeQuery(9, q), { an: [{ type: RR.MX, ttl: 60, rdata: Buffer.from([0, 10, 0xc0, 0]) }] });
    base.writeUInt16BE(0xc000 | (base.length - 2), base.length - 2); // the exchange points at itself
    expect(parseReply(base, 9, q)).toBeUndefined();
  });
});
