// DNS messages on the wire (RFC 1035, EDNS0 RFC 6891, the AD bit RFC 6840 5.7): moat's one codec, for the TXT
// questions whose negative SOA we read and for tlspolicy's DANE/MTA-STS lookups. Trusts nothing in a reply: every
// length is checked; a reply it cannot read is `undefined` (the caller keeps waiting or falls back).
import { randomBytes } from 'node:crypto';

/** The record types moat asks for by number. */
export const RR = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28, TLSA: 52 } as const;
export const TYPE_TXT = RR.TXT;
const TYPE_CNAME = RR.CNAME;
const TYPE_SOA = 6;
const TYPE_OPT = 41;
const CLASS_IN = 1;
/** EDNS0 payload size we announce (the DNS flag day 2020 value): TXT answers up to it need no TCP. */
const EDNS_PAYLOAD = 1232;

/** A host name we encode ourselves: plain LDH(+underscore) labels; anything else is left to c-ares. */
const PLAIN_NAME = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;

/** The question (name, type, class IN) as it appears in a message, or undefined for a name we do not encode. */
export function encodeQuestion(name: string, type: number): Buffer | undefined {
  if (name.length > 254 || !PLAIN_NAME.test(name)) return undefined;
  const labels = name.replace(/\.$/, '').split('.');
  const nameLength = labels.reduce((n, l) => n + l.length + 1, 0) + 1;
  if (nameLength > 255) return undefined; // RFC 1035 2.3.4: 255 octets encoded, root label included
  const q = Buffer.alloc(nameLength + 4);
  let o = 0;
  for (const l of labels) {
    q[o++] = l.length;
    o += q.write(l, o, 'latin1');
  }
  q[o++] = 0;
  q.writeUInt16BE(type, o);
  q.writeUInt16BE(CLASS_IN, o + 2);
  return q;
}

/**
 * DNS 0x20 (draft-vixie-dnsext-dns0x20): the question with its name's letters in random case. A reply must
 * echo it byte for byte (parseReply), so a forged reply must also guess the case, not only the id and port.
 */
export function randomCase(question: Buffer): Buffer {
  const q = Buffer.from(question);
  const bits = randomBytes(q.length);
  for (let o = 0; o < q.length && q[o] !== 0; o += (q[o] as number) + 1) {
    for (let i = o + 1; i <= o + (q[o] as number); i++) {
      const c = q[i] as number;
      if (((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) && (bits[i] as number) & 1) q[i] = c ^ 0x20;
    }
  }
  return q;
}

/**
 * A recursive query with one question and an EDNS0 OPT record (DO clear: moat wants the resolver's verdict,
 * not the signatures). `ad`: set AD in the query, asking a validating resolver to say whether it validated.
 */
export function encodeQuery(id: number, question: Buffer, opts: { ad?: boolean } = {}): Buffer {
  const m = Buffer.alloc(12 + question.length + 11);
  m.writeUInt16BE(id, 0);
  m.writeUInt16BE(opts.ad ? 0x0120 : 0x0100, 2); // RD (+ AD)
  m.writeUInt16BE(1, 4); // QDCOUNT
  m.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  question.copy(m, 12);
  const o = 12 + question.length;
  m[o] = 0; // root owner
  m.writeUInt16BE(TYPE_OPT, o + 1);
  m.writeUInt16BE(EDNS_PAYLOAD, o + 3);
  // extended rcode, version, flags (TTL field) and RDLENGTH: zero
  return m;
}

/** A record of the asked type: its RDATA and TTL; for MX and CNAME the target name decompressed. */
export interface WireRecord {
  data: Buffer;
  /** Seconds (RFC 2181 8: the top bit set counts as 0). */
  ttl: number;
  /** MX exchange / CNAME target, lower case, no trailing dot. */
  target?: string;
  preference?: number;
}

export interface Reply {
  id: number;
  /** Truncated: the answer needs TCP. Nothing else of a truncated reply is read (it may be cut mid-record). */
  tc: boolean;
  /** The full rcode: the header's 4 bits and, when the reply has an OPT record, its extended bits (RFC 6891). */
  rcode: number;
  /** Recursion available, authoritative answer: without both, an empty answer is a referral, not NODATA. */
  ra: boolean;
  aa: boolean;
  /** Authenticated Data: the (validating) resolver says every record in the answer is DNSSEC secure. */
  ad: boolean;
  /** Records of the asked type in the answer section; `ttl` is the smallest TTL among them and the CNAMEs (seconds). */
  records: WireRecord[];
  ttl: number;
  /** RFC 2308: min(SOA TTL, SOA MINIMUM) of the authority section's SOA, when the reply carries one. */
  negativeTtl: number | undefined;
}

/** RFC 2181 8: a TTL (or SOA MINIMUM) with the top bit set counts as 0. */
function ttl32(raw: number): number {
  return raw > 0x7fffffff ? 0 : raw;
}

/** Past a (possibly compressed) name; -1 when it runs off the message. */
function skipName(m: Buffer, o: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (o >= m.length) return -1;
    const len = m[o] as number;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) return o + 2 <= m.length ? o + 2 : -1;
    if (len & 0xc0) return -1; // 0x40/0x80: not in use
    o += len + 1;
  }
  return -1;
}

/** A (possibly compressed) name inside a message, lower case; undefined when damaged or looping. */
export function readName(m: Buffer, o: number): string | undefined {
  const labels: string[] = [];
  for (let hops = 0; hops < 128; hops++) {
    if (o >= m.length) return undefined;
    const len = m[o] as number;
    if (len === 0) return labels.join('.').toLowerCase();
    if ((len & 0xc0) === 0xc0) {
      if (o + 2 > m.length) return undefined;
      o = ((len & 0x3f) << 8) | (m[o + 1] as number);
      continue;
    }
    if (len & 0xc0 || o + 1 + len > m.length) return undefined;
    labels.push(m.toString('latin1', o + 1, o + 1 + len));
    o += 1 + len;
  }
  return undefined;
}

/**
 * Reads a reply to `question` with query `id`; undefined when it is not one (wrong id, not a response,
 * another question, damaged), so the caller keeps waiting or falls back. The question must come back
 * exactly as sent, letter case included (randomCase).
 */
export function parseReply(m: Buffer, id: number, question: Buffer): Reply | undefined {
  if (m.length < 12 || m.readUInt16BE(0) !== id) return undefined;
  const flags = m.readUInt16BE(2);
  if (!(flags & 0x8000) || (flags & 0x7800) !== 0) return undefined; // QR, opcode QUERY
  if (m.readUInt16BE(4) !== 1) return undefined;
  const qEnd = 12 + question.length;
  if (qEnd > m.length || !m.subarray(12, qEnd).equals(question)) return undefined;
  const ra = (flags & 0x0080) !== 0;
  const aa = (flags & 0x0400) !== 0;
  const ad = (flags & 0x0020) !== 0;
  if (flags & 0x0200) return { id, tc: true, rcode: flags & 0x000f, ra, aa, ad, records: [], ttl: 0, negativeTtl: undefined };
  const type = question.readUInt16BE(question.length - 4);
  const an = m.readUInt16BE(6);
  const ns = m.readUInt16BE(8);
  const ar = m.readUInt16BE(10);
  const records: WireRecord[] = [];
  let ttl = Number.POSITIVE_INFINITY;
  let cnameTtl = Number.POSITIVE_INFINITY;
  let negativeTtl: number | undefined;
  let rcode = flags & 0x000f;
  let o = qEnd;
  for (let i = 0; i < an + ns + ar; i++) {
    o = skipName(m, o);
    if (o < 0 || o + 10 > m.length) return undefined;
    const rrType = m.readUInt16BE(o);
    const rrClass = m.readUInt16BE(o + 2);
    const rawTtl = m.readUInt32BE(o + 4);
    const len = m.readUInt16BE(o + 8);
    const start = o + 10;
    o = start + len;
    if (o > m.length) return undefined;
    if (i >= an + ns) {
      if (rrType === TYPE_OPT) rcode |= (rawTtl >>> 24) << 4; // extended rcode: its upper 8 bits
      continue;
    }
    if (rrClass !== CLASS_IN) continue;
    if (i < an && rrType === type) {
      const rr: WireRecord = { data: m.subarray(start, o), ttl: ttl32(rawTtl) };
      if (type === RR.MX || type === RR.CNAME) {
        const at = type === RR.MX ? start + 2 : start;
        const target = at < o ? readName(m, at) : undefined;
        if (target === undefined) return undefined;
        rr.target = target;
        if (type === RR.MX) rr.preference = m.readUInt16BE(start);
      }
      records.push(rr);
      ttl = Math.min(ttl, rr.ttl);
    } else if (i < an && rrType === TYPE_CNAME) {
      cnameTtl = Math.min(cnameTtl, ttl32(rawTtl));
    } else if (i >= an && rrType === TYPE_SOA && len >= 22) {
      negativeTtl = Math.min(ttl32(rawTtl), ttl32(m.readUInt32BE(o - 4)));
    }
  }
  return { id, tc: false, rcode, ra, aa, ad, records, ttl: records.length ? Math.min(ttl, cnameTtl) : 0, negativeTtl };
}

/** A TXT record's character-strings, as node:dns gives them (latin1, one string per chunk); undefined if damaged. */
export function txtChunks(rdata: Buffer): string[] | undefined {
  const chunks: string[] = [];
  for (let o = 0; o < rdata.length; ) {
    const len = rdata[o] as number;
    if (o + 1 + len > rdata.length) return undefined;
    chunks.push(rdata.toString('latin1', o + 1, o + 1 + len));
    o += 1 + len;
  }
  return chunks;
}
