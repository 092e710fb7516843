// A tiny authoritative DNS server on loopback UDP for the SPF tests (TXT, A, AAAA, MX; NXDOMAIN else).
// Trusts nothing it receives: malformed packets are dropped; it answers only the zone it is given.
import { createSocket, type Socket } from 'node:dgram';
import { parseIp } from '@moat/policy';

export type Zone = Record<string, { TXT?: string[]; A?: string[]; AAAA?: string[]; MX?: string[] }>;
const TYPES: Record<number, 'A' | 'TXT' | 'AAAA' | 'MX'> = { 1: 'A', 16: 'TXT', 28: 'AAAA', 15: 'MX' };

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])), Buffer.from([0])]);
}

function rdata(type: 'A' | 'TXT' | 'AAAA' | 'MX', value: string): Buffer {
  switch (type) {
    case 'A':
      return Buffer.from(value.split('.').map(Number));
    case 'AAAA':
      return Buffer.from(parseIp(value)!.bytes);
    case 'MX':
      return Buffer.concat([Buffer.from([0, 10]), encodeName(value)]);
    case 'TXT': {
      const chunks: Buffer[] = [];
      for (let i = 0; i < value.length || i === 0; i += 255) {
        const c = Buffer.from(value.slice(i, i + 255));
        chunks.push(Buffer.from([c.length]), c);
      }
      return Buffer.concat(chunks);
    }
  }
}

export interface TestDns {
  server: string;
  queries: string[];
  close(): Promise<void>;
}

export function startTestDns(zone: Zone): Promise<TestDns> {
  const queries: string[] = [];
  const sock: Socket = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      let off = 12;
      const labels: string[] = [];
      for (;;) {
        const len = msg[off] ?? 0;
        off++;
        if (len === 0) break;
        labels.push(msg.subarray(off, off + len).toString().toLowerCase());
        off += len;
      }
      const qtype = msg.readUInt16BE(off);
      const question = msg.subarray(12, off + 4);
      const name = labels.join('.');
      const type = TYPES[qtype];
      queries.push(`${type ?? qtype} ${name}`);
      const node = zone[name];
      const values = node && type ? (node[type] ?? []) : [];
      const header = Buffer.alloc(12);
      msg.copy(header, 0, 0, 2);
      header.writeUInt16BE(0x8400 | (node ? 0 : 3), 2); // QR AA, NOERROR or NXDOMAIN
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(values.length, 6);
      const answers = values.map((v) => {
        const rd = rdata(type!, v);
        const rr = Buffer.alloc(12);
        rr.writeUInt16BE(0xc00c, 0);
        rr.writeUInt16BE(qtype, 2);
        rr.writeUInt16BE(1, 4);
        rr.writeUInt32BE(300, 6);
        rr.writeUInt16BE(rd.length, 10);
        return Buffer.concat([rr, rd]);
      });
      // "no such record" carries the zone's SOA (RFC 2308), as a real server's does: negative TTL 60 s
      const soa = Buffer.alloc(11 + 22);
      soa.writeUInt16BE(6, 1); // root owner, type SOA
      soa.writeUInt16BE(1, 3);
      soa.writeUInt32BE(300, 5);
      soa.writeUInt16BE(22, 9); // root MNAME and RNAME, then serial..minimum
      soa.writeUInt32BE(60, 29);
      const negative = values.length === 0;
      header.writeUInt16BE(negative ? 1 : 0, 8);
      sock.send(Buffer.concat([header, question, ...answers, ...(negative ? [soa] : [])]), rinfo.port, rinfo.address);
    } catch {
      // malformed: drop
    }
  });
  return new Promise((resolve) => {
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      resolve({ server: `127.0.0.1:${port}`, queries, close: () => new Promise<void>((r) => sock.close(() => r())) });
    });
  });
}
