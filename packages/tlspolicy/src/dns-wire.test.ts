import { describe, expect, it } from 'vitest';
import { decodeResponse, encodeQuery, RR } from './dns-wire.ts';

function response(id: number, flags: number, answers: Buffer[]): Buffer {
  const q = encodeQuery(id, 'mx.example.test', RR.MX);
  const question = q.subarray(12, q.length - 11);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  return Buffer.concat([head, question, ...answers]);
}

function mx(pref: number): Buffer {
  // name: pointer to the question (offset 12); MX rdata: preference + "mail" + pointer to "example.test"
  const rdata = Buffer.concat([Buffer.from([pref >> 8, pref & 255, 4]), Buffer.from('mail'), Buffer.from([0xc0, 15])]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(RR.MX, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(60, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([Buffer.from([0xc0, 12]), fixed, rdata]);
}

describe('DNS wire format', () => {
  it('asks with RD and AD set and an EDNS0 OPT record', () => {
    const q = encodeQuery(7, 'example.test', RR.TLSA);
    expect(q.readUInt16BE(2)).toBe(0x0120);
    expect(q.readUInt16BE(10)).toBe(1);
  });
  it('reads the AD bit, rcode and compressed names', () => {
    const a = decodeResponse(response(9, 0x81a0, [mx(10)]), 9);
    expect(a).toMatchObject({ rcode: 0, ad: true, truncated: false });
    expect(a.answers[0]).toMatchObject({ name: 'mx.example.test', type: RR.MX, preference: 10, target: 'mail.example.test' });
    expect(decodeResponse(response(9, 0x8182, []), 9)).toMatchObject({ rcode: 2, ad: false });
  });
  it('throws on garbage, a wrong id or a compression loop instead of answering "none"', () => {
    expect(() => decodeResponse(Buffer.from('nonsense'), 1)).toThrow();
    expect(() => decodeResponse(response(9, 0x8180, []), 10)).toThrow(/id/);
    const base = response(9, 0x8180, []);
    // the answer's name points at itself
    const loop = Buffer.concat([base, Buffer.from([0xc0, base.length]), Buffer.alloc(10)]);
    loop.writeUInt16BE(1, 6);
    expect(() => decodeResponse(loop, 9)).toThrow(/loop/);
  });
});
