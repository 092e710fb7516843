// Crafted DNS replies over a local UDP socket, for the wire client's unit tests.
// Trusts nothing: it only answers the datagrams the test sends it on loopback.
import { createSocket } from 'node:dgram';

export interface RR {
  type: number;
  ttl: number;
  rdata: Buffer;
}

/** A reply to `query` (its id and question echoed): flags past QR|RD, rcode, and answer/authority/additional records. */
export function reply(query: Buffer, opts: { rcode?: number; ra?: boolean; aa?: boolean; tc?: boolean; an?: RR[]; ns?: RR[]; ar?: Buffer[] }): Buffer {
  const qEnd = query.indexOf(0, 12) + 5;
  const head = Buffer.alloc(12);
  query.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8100 | (opts.ra === false ? 0 : 0x80) | (opts.aa ? 0x400 : 0) | (opts.tc ? 0x200 : 0) | ((opts.rcode ?? 0) & 0xf), 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(opts.an?.length ?? 0, 6);
  head.writeUInt16BE(opts.ns?.length ?? 0, 8);
  head.writeUInt16BE(opts.ar?.length ?? 0, 10);
  const rr = ({ type, ttl, rdata }: RR) => {
    const b = Buffer.alloc(12 + rdata.length);
    b.writeUInt16BE(0xc00c, 0); // the question's name
    b.writeUInt16BE(type, 2);
    b.writeUInt16BE(1, 4);
    b.writeUInt32BE(ttl, 6);
    b.writeUInt16BE(rdata.length, 10);
    rdata.copy(b, 12);
    return b;
  };
  return Buffer.concat([head, query.subarray(12, qEnd), ...(opts.an ?? []).map(rr), ...(opts.ns ?? []).map(rr), ...(opts.ar ?? [])]);
}

/** A TXT record's rdata of one string. */
export const txt = (s: string): Buffer => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);

/** An SOA rdata (root names) with TTL fields; MINIMUM last. */
export function soa(minimum: number): Buffer {
  const b = Buffer.alloc(22);
  b.writeUInt32BE(minimum, 18);
  return b;
}

/** An OPT record (RFC 6891) with the extended rcode's upper 8 bits. */
export function opt(extendedRcode: number): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(41, 1);
  b.writeUInt16BE(1232, 3);
  b[5] = extendedRcode;
  return b;
}

/** A UDP server on 127.0.0.1 answering each query with `answer(query, n)` (undefined: silence). */
export async function fakeDns(answer: (query: Buffer, n: number) => Buffer | undefined) {
  const s = createSocket('udp4');
  let n = 0;
  s.on('message', (m, peer) => {
    const r = answer(m, n++);
    if (r) s.send(r, peer.port, peer.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  return { server: `127.0.0.1:${port}`, port, received: () => n, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** An address where nothing listens (a port bound, then freed): a connected UDP socket there gets ECONNREFUSED. */
export async function closedPort(): Promise<string> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

/** A TCP server on 127.0.0.1:`port` answering each framed query (RFC 7766) with `answer(query)`; counts queries. */
export async function fakeTcpDns(port: number, answer: (query: Buffer) => Buffer) {
  const { createServer } = await import('node:net');
  let n = 0;
  const srv = createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('error', () => {});
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      n++;
      const r = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      const len = Buffer.alloc(2);
      len.writeUInt16BE(r.length);
      c.end(Buffer.concat([len, r]));
    });
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return { received: () => n, close: () => new Promise<void>((r) => srv.close(() => r())) };
}
