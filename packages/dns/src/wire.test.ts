import { describe, expect, it } from 'vitest';
import { encodeQuery, encodeQuestion, parseReply, TYPE_TXT, txtChunks } from './wire.ts';

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
});
