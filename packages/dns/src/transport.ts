// One DNS question to the configured resolvers over UDP, then TCP when the reply is truncated: moat's one DNS
// transport (the caching resolver's TXT and tlspolicy's DANE/MTA-STS lookups). Trusts the configured resolver; checks id, peer, question.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { ResolverAddress } from './server-address.ts';
import { encodeQuery, encodeQuestion, parseReply, randomCase, type Reply, RR } from './wire.ts';

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RR).map(([k, v]) => [v, k[0] + k.slice(1).toLowerCase()]));

/**
 * node:dns-shaped failure (its `code`, `syscall` such as `queryTxt`, `hostname`), with the negative TTL in
 * seconds when the reply carried an SOA.
 */
export class DnsAnswerError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly hostname: string;
  readonly negativeTtl: number | undefined;
  /**
   * Not every try ended with `code` (another server timed out or answered otherwise): not the resolvers'
   * settled word, so the cache never keeps it (cache.ts).
   */
  readonly mixed: boolean;
  constructor(code: string, hostname: string, negativeTtl?: number, type: number = RR.TXT, mixed = false) {
    const syscall = `query${TYPE_NAMES[type] ?? type}`;
    // an answer, not a bug: no stack trace (capturing one was ~1% of the SMTP thread, one per missing TXT name)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(`${syscall} ${code} ${hostname}`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.mixed = mixed;
    this.code = code;
    this.syscall = syscall;
    this.hostname = hostname;
    this.negativeTtl = negativeTtl;
  }
}

/** A try that got no usable answer: the code to report if no later try does better. */
class TryFailed {
  readonly code: string;
  constructor(code: string) {
    this.code = code;
  }
}

type Try = Reply | TryFailed | undefined;

/**
 * One UDP try: a fresh connected socket (a random source port per try, the kernel drops other peers), the first
 * reply that matches, undefined at `ms`, or TryFailed('ECONNREFUSED') on any socket error (as c-ares reports every one).
 */
function udpTry(server: ResolverAddress, query: Buffer, id: number, question: Buffer, ms: number): Promise<Try> {
  return new Promise((resolve) => {
    const s = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    let settled = false;
    const done = (r: Try) => {
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

/** The same query over TCP (RFC 7766, two-byte length prefix) after a truncated reply; a reply that is not ours fails the try. */
function tcpTry(server: ResolverAddress, query: Buffer, id: number, question: Buffer, ms: number): Promise<Try> {
  return new Promise((resolve) => {
    const s = connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (r: Try) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), ms);
    s.on('error', () => done(new TryFailed('ECONNREFUSED')));
    s.on('close', () => done(new TryFailed('ECONNREFUSED')));
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      s.write(Buffer.concat([len, query]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const r = parseReply(buf.subarray(2, 2 + buf.readUInt16BE(0)), id, question);
      done(r && !r.tc ? r : new TryFailed('EBADRESP'));
    });
  });
}

/** Answers that say "this server cannot answer now": the next server is asked (c-ares does the same). */
const NEXT_SERVER: Record<number, string> = { 2: 'ESERVFAIL', 4: 'ENOTIMP', 5: 'EREFUSED', 16: 'EBADRESP' /* BADVERS */ };

export interface ExchangeOptions {
  /** The first try's wait (ms); doubled each round over the servers. */
  perTryMs: number;
  /** Date.now() ms past which no try is started and none waits. */
  deadline: number;
  /** Set AD in the query (a validating resolver then reports AD in its reply). */
  ad?: boolean;
  /** SERVFAIL is the answer, not a reason to ask the next server (a validating resolver's verdict on bogus data). */
  servfailFinal?: boolean;
}

/**
 * Asks `name`/`type` like c-ares: `servers.length` x 2 tries in rounds over the servers, the wait `perTryMs`
 * doubled each round, never past `deadline`. DNS 0x20 and a random id per try; a truncated reply is asked
 * again over TCP of the same server within the same try's wait. A socket error, SERVFAIL (unless
 * `servfailFinal`), NOTIMP, REFUSED, BADVERS or a referral (NOERROR, neither RA nor AA, nothing answered) moves
 * on to the next server; when all tries fail, DnsAnswerError with the last failure's code (or ETIMEOUT), `mixed`
 * when the tries did not all end with that code.
 * Any other reply is returned, whatever its rcode: the caller reads it. undefined: a name we do not encode.
 */
export async function exchange(servers: readonly ResolverAddress[], name: string, type: number, opts: ExchangeOptions): Promise<Reply | undefined> {
  const question = encodeQuestion(name, type);
  if (!question) return undefined;
  let last = 'ETIMEOUT';
  let tries = 0;
  let mixed = false; // a try ended otherwise than `last` (a timeout counts as ETIMEOUT)
  const ended = (code: string) => {
    if (tries++ > 0 && code !== last) mixed = true;
    last = code;
  };
  for (let attempt = 0; attempt < servers.length * 2; attempt++) {
    const wait = Math.min(opts.perTryMs * 2 ** Math.floor(attempt / servers.length), opts.deadline - Date.now());
    if (wait <= 0) break;
    const id = randomInt(0x10000);
    const asked = randomCase(question); // DNS 0x20: the reply must echo this case
    const server = servers[attempt % servers.length] as ResolverAddress;
    const query = encodeQuery(id, asked, { ad: opts.ad });
    let r = await udpTry(server, query, id, asked, wait);
    if (r !== undefined && !(r instanceof TryFailed) && r.tc) {
      const left = Math.min(wait, opts.deadline - Date.now());
      r = left > 0 ? await tcpTry(server, query, id, asked, left) : undefined;
    }
    if (r === undefined) {
      ended('ETIMEOUT');
      continue;
    }
    if (r instanceof TryFailed) {
      ended(r.code);
      continue;
    }
    const next =
      (r.rcode === 2 && opts.servfailFinal ? undefined : NEXT_SERVER[r.rcode]) ??
      (r.rcode === 0 && !r.ra && !r.aa && r.records.length === 0 ? 'EBADRESP' : undefined);
    if (next) {
      ended(next);
      continue;
    }
    return r;
  }
  throw new DnsAnswerError(last, name, undefined, type, mixed);
}
