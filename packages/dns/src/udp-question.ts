// One TXT question over UDP to the configured resolver, read far enough to see a negative answer's SOA
// (RFC 2308), which node:dns (c-ares) does not report. Trusts the configured resolver; checks id, peer, question.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ResolverAddress } from './server-address.ts';
import { encodeQuery, encodeQuestion, parseReply, type Reply, TYPE_TXT, txtChunks } from './wire.ts';

/** node:dns-shaped failure (its `code`), with the negative TTL in seconds when the reply carried an SOA. */
export class DnsAnswerError extends Error {
  readonly code: string;
  readonly hostname: string;
  readonly negativeTtl: number | undefined;
  constructor(code: string, hostname: string, negativeTtl?: number) {
    super(`queryTxt ${code} ${hostname}`);
    this.code = code;
    this.hostname = hostname;
    this.negativeTtl = negativeTtl;
  }
}

/** The reply needs what c-ares does and this does not (TCP after truncation, no EDNS, an odd name). */
export const FALL_BACK = Symbol('fall back to c-ares');

/** One try: a fresh connected socket (a random source port per try), the first reply that matches, or undefined at `ms`. */
function tryOnce(server: ResolverAddress, query: Buffer, id: number, question: Buffer, ms: number): Promise<Reply | undefined> {
  return new Promise((resolve, reject) => {
    const s = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.close();
      fn();
    };
    const timer = setTimeout(() => done(() => resolve(undefined)), ms);
    s.on('error', (e: NodeJS.ErrnoException) => done(() => reject(new DnsAnswerError(e.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'EBADRESP', ''))));
    s.on('message', (m) => {
      const r = parseReply(m, id, question);
      if (r) done(() => resolve(r)); // a stray or damaged datagram: keep waiting
    });
    s.connect(server.port, server.host, () => {
      if (!settled) s.send(query);
    });
  });
}

const RCODE: Record<number, string> = { 2: 'ESERVFAIL', 5: 'EREFUSED' };

/**
 * TXT records of `name` and their TTL, like c-ares: two tries (the second with twice the wait, on the next
 * server), NXDOMAIN -> ENOTFOUND, no TXT -> ENODATA, SERVFAIL/REFUSED, ETIMEOUT. FALL_BACK when c-ares should ask.
 */
export async function askTxt(servers: readonly ResolverAddress[], name: string, perTryMs: number): Promise<{ data: string[][]; ttl: number } | typeof FALL_BACK> {
  const question = encodeQuestion(name, TYPE_TXT);
  if (!question) return FALL_BACK;
  for (let attempt = 0; attempt < 2; attempt++) {
    const id = randomInt(0x10000);
    const server = servers[attempt % servers.length] as ResolverAddress;
    const r = await tryOnce(server, encodeQuery(id, question), id, question, perTryMs * (attempt + 1)).catch((e: DnsAnswerError) => {
      throw new DnsAnswerError(e.code, name);
    });
    if (!r) continue;
    if (r.tc) return FALL_BACK;
    if (r.rcode === 3) throw new DnsAnswerError('ENOTFOUND', name, r.negativeTtl);
    if (r.rcode !== 0) {
      const code = RCODE[r.rcode];
      if (!code) return FALL_BACK; // FORMERR/NOTIMP (an old server and EDNS): c-ares knows the dance
      throw new DnsAnswerError(code, name);
    }
    if (r.records.length === 0) throw new DnsAnswerError('ENODATA', name, r.negativeTtl);
    const data: string[][] = [];
    for (const rr of r.records) {
      const chunks = txtChunks(rr);
      if (!chunks) return FALL_BACK;
      data.push(chunks);
    }
    return { data, ttl: r.ttl };
  }
  throw new DnsAnswerError('ETIMEOUT', name);
}
