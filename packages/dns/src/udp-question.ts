// One TXT question over UDP to the configured resolver, read far enough to see a negative answer's SOA
// (RFC 2308), which node:dns (c-ares) does not report. Trusts the configured resolver; checks id, peer, question.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ResolverAddress } from './server-address.ts';
import { encodeQuery, encodeQuestion, parseReply, randomCase, type Reply, TYPE_TXT, txtChunks } from './wire.ts';

/** node:dns-shaped failure (its `code`, `syscall`, `hostname`), with the negative TTL in seconds when the reply carried an SOA. */
export class DnsAnswerError extends Error {
  readonly code: string;
  readonly syscall = 'queryTxt';
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

/** A try that got no usable answer: the code to report if no later try does better. */
class TryFailed {
  readonly code: string;
  constructor(code: string) {
    this.code = code;
  }
}

/**
 * One try: a fresh connected socket (a random source port per try), the first reply that matches, undefined at
 * `ms`, or TryFailed('ECONNREFUSED') on any socket error (as c-ares reports every one of them).
 */
function tryOnce(server: ResolverAddress, query: Buffer, id: number, question: Buffer, ms: number): Promise<Reply | TryFailed | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    let settled = false;
    const done = (r: Reply | TryFailed | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), ms);
    s.on('error', () => done(new TryFailed('ECONNREFUSED')));
    s.on('message', (m) => {
      const r = parseReply(m, id, question);
      if (r) done(r); // a stray or damaged datagram: keep waiting
    });
    s.once('connect', () => {
      if (!settled) s.send(query);
    });
    s.connect(server.port, server.host); // no callback: a failed connect is an 'error' event
  });
}

/** Answers that say "this server cannot answer now": the next server is asked (c-ares does the same). */
const NEXT_SERVER: Record<number, string> = { 2: 'ESERVFAIL', 4: 'ENOTIMP', 5: 'EREFUSED', 16: 'EBADRESP' /* BADVERS */ };

/**
 * TXT records of `name` and their TTL, like c-ares: `servers.length` x 2 tries in rounds over the servers, the
 * wait `perTryMs` doubled each round, never past `deadline` (Date.now() ms). A socket error, SERVFAIL, NOTIMP,
 * REFUSED, BADVERS or a referral (NOERROR, neither RA nor AA, nothing answered) moves on to the next server; when all tries fail, the last failure's code
 * (or ETIMEOUT). NXDOMAIN -> ENOTFOUND, no TXT -> ENODATA, both with the SOA's negative TTL (0 without an SOA:
 * RFC 2308 section 5, not kept). FALL_BACK when c-ares should ask.
 */
export async function askTxt(
  servers: readonly ResolverAddress[],
  name: string,
  perTryMs: number,
  deadline: number,
): Promise<{ data: string[][]; ttl: number } | typeof FALL_BACK> {
  const question = encodeQuestion(name, TYPE_TXT);
  if (!question) return FALL_BACK;
  let last = 'ETIMEOUT';
  for (let attempt = 0; attempt < servers.length * 2; attempt++) {
    const wait = Math.min(perTryMs * 2 ** Math.floor(attempt / servers.length), deadline - Date.now());
    if (wait <= 0) break;
    const id = randomInt(0x10000);
    const asked = randomCase(question); // DNS 0x20: the reply must echo this case
    const server = servers[attempt % servers.length] as ResolverAddress;
    const r = await tryOnce(server, encodeQuery(id, asked), id, asked, wait);
    if (r === undefined) continue;
    if (r instanceof TryFailed) {
      last = r.code;
      continue;
    }
    if (r.tc) return FALL_BACK;
    const next = NEXT_SERVER[r.rcode] ?? (r.rcode === 0 && !r.ra && !r.aa && r.records.length === 0 ? 'EBADRESP' : undefined);
    if (next) {
      last = next;
      continue;
    }
    if (r.rcode === 3) throw new DnsAnswerError('ENOTFOUND', name, r.negativeTtl ?? 0);
    if (r.rcode !== 0) return FALL_BACK; // FORMERR (an old server and EDNS) and the rest: c-ares knows the dance
    if (r.records.length === 0) throw new DnsAnswerError('ENODATA', name, r.negativeTtl ?? 0);
    const data: string[][] = [];
    for (const rr of r.records) {
      const chunks = txtChunks(rr);
      if (!chunks) return FALL_BACK;
      data.push(chunks);
    }
    return { data, ttl: r.ttl };
  }
  throw new DnsAnswerError(last, name);
}
