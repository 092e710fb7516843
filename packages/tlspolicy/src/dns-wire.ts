// A minimal DNS stub client that asks for and reads the AD bit (RFC 6840 5.7): node:dns hides it, DANE needs it.
// Talks only to the configured validating resolver (the bundled Unbound); every answer byte is untrusted.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { unmapIPv4 } from '@moat/policy';

export const RR = { A: 1, MX: 15, TXT: 16, AAAA: 28, CNAME: 5, TLSA: 52 } as const;

export interface WireRecord {
  name: string;
  type: number;
  /** The record's RDATA (names inside it are not decompressed, except MX/CNAME below). */
  data: Buffer;
  /** MX exchange / CNAME target, decompressed. */
  target?: string;
  preference?: number;
  /** Seconds the resolver says the record may be kept. */
  ttl?: number;
}

export interface WireAnswer {
  rcode: number;
  /** Authenticated Data: the resolver validated every record in the answer (DNSSEC secure). */
  ad: boolean;
  answers: WireRecord[];
  /**
   * Seconds the answer may be kept: the smallest TTL of its records; for NXDOMAIN/NODATA the SOA's negative
   * TTL (RFC 2308 5: the smaller of the SOA record's TTL and its MINIMUM); 0 when neither is there.
   */
  ttl: number;
}

/** A query that got no answer in time: the caller must not treat it as "no record". */
export class DnsTimeoutError extends Error {
  readonly code = 'dns-timeout';
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, 'ascii');
    if (b.length > 63) throw new Error(`DNS label too long in ${name.slice(0, 100)}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function encodeQuery(id: number, name: string, type: number): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0120, 2); // RD + AD (ask the resolver to say whether it validated)
  head.writeUInt16BE(1, 4); // QDCOUNT
  head.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const q = Buffer.alloc(4);
  q.writeUInt16BE(type, 0);
  q.writeUInt16BE(1, 2);
  // EDNS0 OPT: 4096-byte UDP payload, DO=0 (we want the AD bit, not the signatures)
  const opt = Buffer.from([0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([head, encodeName(name), q, opt]);
}

function readName(msg: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let off = start;
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[off];
    if (len === undefined) throw new Error('truncated name');
    if (len === 0) {
      if (end < 0) end = off + 1;
      return { name: labels.join('.').toLowerCase(), end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | (msg[off + 1] ?? 0);
      continue;
    }
    if (off + 1 + len > msg.length) throw new Error('truncated label');
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  throw new Error('name compression loop');
}

/** Parse a response to query `id`; throws on anything malformed (the caller treats that as a failure). */
export function decodeResponse(msg: Buffer, id: number): WireAnswer & { truncated: boolean } {
  if (msg.length < 12) throw new Error('short DNS response');
  if (msg.readUInt16BE(0) !== id) throw new Error('DNS response id mismatch');
  const flags = msg.readUInt16BE(2);
  if (!(flags & 0x8000)) throw new Error('not a DNS response');
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(msg, off).end + 4;
  const answers: WireRecord[] = [];
  for (let i = 0; i < an; i++) {
    const n = readName(msg, off);
    off = n.end;
    if (off + 10 > msg.length) throw new Error('truncated record');
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 8);
    const rdStart = off + 10;
    if (rdStart + len > msg.length) throw new Error('truncated rdata');
    const rec: WireRecord = { name: n.name, type, data: Buffer.from(msg.subarray(rdStart, rdStart + len)) };
    if (type === RR.MX) {
      rec.preference = msg.readUInt16BE(rdStart);
      rec.target = readName(msg, rdStart + 2).name;
    } else if (type === RR.CNAME) rec.target = readName(msg, rdStart).name;
    rec.ttl = msg.readUInt32BE(off + 4);
    answers.push(rec);
    off = rdStart + len;
  }
  let ttl = answers.length > 0 ? Math.min(...answers.map((r) => r.ttl ?? 0)) : 0;
  if (answers.length === 0) {
    // the authority section's SOA, for how long "no such record" may be believed
    const ns = msg.readUInt16BE(8);
    for (let i = 0; i < ns && off < msg.length; i++) {
      off = readName(msg, off).end;
      if (off + 10 > msg.length) break;
      const type = msg.readUInt16BE(off);
      const len = msg.readUInt16BE(off + 8);
      if (type === 6 && len >= 20 && off + 10 + len <= msg.length) {
        ttl = Math.min(msg.readUInt32BE(off + 4), msg.readUInt32BE(off + 10 + len - 4));
        break;
      }
      off += 10 + len;
    }
  }
  return { rcode: flags & 0x000f, ad: (flags & 0x0020) !== 0, truncated: (flags & 0x0200) !== 0, answers, ttl };
}

function parseServer(server: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server);
  if (!m) throw new Error(`bad DNS server ${server}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

/** The end of a query's one question (QNAME labels, uncompressed as we write them, then QTYPE and QCLASS). */
function questionEnd(packet: Buffer): number {
  let i = 12;
  while (i < packet.length && packet[i] !== 0) i += packet[i]! + 1;
  return Math.min(packet.length, i + 5);
}

function udpQuery(server: { host: string; port: number }, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const id = packet.readUInt16BE(0);
    const t = setTimeout(() => {
      sock.close();
      reject(new DnsTimeoutError(`no answer from ${server.host}:${server.port} in ${timeoutMs} ms`));
    }, timeoutMs);
    const question = packet.subarray(12, questionEnd(packet));
    sock.on('message', (m, rinfo) => {
      // not ours (another id, another sender, another question: an off-path guess): keep waiting
      if (m.length < 2 || m.readUInt16BE(0) !== id) return;
      if (rinfo.port !== server.port || unmapIPv4(rinfo.address) !== unmapIPv4(server.host)) return;
      if (m.length < 12 + question.length || m.readUInt16BE(4) !== 1 || !m.subarray(12, 12 + question.length).equals(question)) return;
      clearTimeout(t);
      sock.close();
      resolve(m);
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      sock.close();
      reject(e);
    });
    sock.send(packet, server.port, server.host);
  });
}

function tcpQuery(server: { host: string; port: number }, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(server);
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      reject(new DnsTimeoutError(`no answer from ${server.host}:${server.port} (tcp) in ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(packet.length);
      s.write(Buffer.concat([len, packet]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        s.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Ask `server` (`host:port`) one question; UDP, then TCP when truncated. Throws DnsTimeoutError on silence. */
export async function queryWire(server: string, name: string, type: number, timeoutMs: number): Promise<WireAnswer> {
  const srv = parseServer(server);
  const id = randomInt(0, 0x10000);
  const packet = encodeQuery(id, name, type);
  const first = decodeResponse(await udpQuery(srv, packet, timeoutMs), id);
  const res = first.truncated ? decodeResponse(await tcpQuery(srv, packet, timeoutMs), id) : first;
  return { rcode: res.rcode, ad: res.ad, answers: res.answers, ttl: res.ttl };
}
