// A small SMTP/LMTP client for one delivery: per-recipient replies, 4xx/5xx kept apart, opportunistic STARTTLS.
// Talks to one next hop over TCP; everything the server says is untrusted text, only reply codes decide.
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TlsOutcomeFailure, TlsRequirement } from './tls-requirement.ts';
import { type RecipientResult, statusFor } from './types.ts';

export interface SmtpSendOptions {
  host: string;
  port: number;
  /** A unix-domain socket instead of host:port (LMTP to a local mailbox server: `lmtp:unix:/path`). */
  path?: string | undefined;
  /** Speak LMTP (LHLO, one reply per recipient after DATA). */
  lmtp?: boolean;
  /** Our name in EHLO/LHLO. */
  heloName: string;
  /** `opportunistic` (default): STARTTLS when offered, unverified, plain text if the handshake fails. */
  starttls?: 'never' | 'opportunistic';
  /** SNI / name for TLS. */
  servername?: string;
  /** Per reply, ms (default 60 s; Postfix uses minutes). */
  timeoutMs?: number;
  sender: string;
  recipients: string[];
  message: Buffer;
  /** Reuse a cached session to this next hop and cache this one afterwards. */
  reuse?: boolean;
  /** Outbound TLS policy for this host (MTA-STS, DANE): see tls-requirement.ts. Absent: opportunistic. */
  tls?: TlsRequirement | undefined;
}

/**
 * Keep the session open after a delivery and reuse it for the next one to the same next hop
 * (Postfix's smtp_connection_cache_on_demand; RSET before reuse, closed after 2 s idle).
 */
const CACHE_IDLE_MS = 2000;
const CACHE_MAX_PER_KEY = 16;

interface CachedSession {
  c: Conversation;
  ehlo: Reply;
  timer: NodeJS.Timeout;
}

const sessionCache = new Map<string, CachedSession[]>();

function takeCached(key: string): CachedSession | undefined {
  const list = sessionCache.get(key);
  const s = list?.pop();
  if (list && list.length === 0) sessionCache.delete(key);
  if (s) {
    clearTimeout(s.timer);
    s.c.idle(false);
  }
  return s;
}

function putCached(key: string, c: Conversation, ehlo: Reply): void {
  const list = sessionCache.get(key) ?? [];
  if (list.length >= CACHE_MAX_PER_KEY) {
    c.end();
    return;
  }
  const entry: CachedSession = {
    c,
    ehlo,
    timer: setTimeout(() => {
      const l = sessionCache.get(key);
      const i = l?.indexOf(entry) ?? -1;
      if (l && i >= 0) l.splice(i, 1);
      if (l && l.length === 0) sessionCache.delete(key);
      c.write('QUIT\r\n');
      c.end();
    }, CACHE_IDLE_MS),
  };
  entry.timer.unref();
  c.idle(true);
  list.push(entry);
  sessionCache.set(key, list);
}

/** Close every cached session (shutdown, tests). */
export function closeCachedSessions(): void {
  for (const [key, list] of sessionCache) {
    for (const s of list) {
      clearTimeout(s.timer);
      s.c.write('QUIT\r\n');
      s.c.end();
    }
    sessionCache.delete(key);
  }
}

export interface SmtpSendResult {
  results: RecipientResult[];
  tls: boolean;
  /** What went wrong with TLS on this session (counted for TLS-RPT), also when the policy only reports. */
  tlsFailure?: TlsOutcomeFailure;
}

interface Reply {
  code: number;
  text: string;
}

class ProtocolError extends Error {
  readonly reply: Reply | undefined;
  constructor(message: string, reply?: Reply) {
    super(message);
    this.reply = reply;
  }
}

/** Dot-stuff and terminate: lines starting with `.` get another one; the message ends with CRLF.CRLF. */
export function dotStuff(message: Buffer): Buffer {
  return Buffer.concat(dotStuffParts(message));
}

/** The same as slices of the message (no copy of a large message). */
export function dotStuffParts(message: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  if (message[0] === 0x2e) {
    parts.push(Buffer.from('.'));
  }
  for (let i = message.indexOf(0x0a); i >= 0; i = message.indexOf(0x0a, i + 1)) {
    if (message[i + 1] === 0x2e) {
      parts.push(message.subarray(start, i + 1), Buffer.from('.'));
      start = i + 1;
    }
  }
  parts.push(message.subarray(start));
  const endsWithCrlf = message.length >= 2 && message[message.length - 2] === 0x0d && message[message.length - 1] === 0x0a;
  parts.push(Buffer.from(endsWithCrlf ? '.\r\n' : '\r\n.\r\n'));
  return parts;
}

function enhancedOf(text: string): string | undefined {
  return /^([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
}

/** Line-oriented reply reader over a socket that can be swapped (STARTTLS). */
class Conversation {
  private sock: Socket | TLSSocket;
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  private error: Error | null = null;
  private readonly timeoutMs: number;
  private readonly onData = (d: Buffer) => {
    this.buf += d.toString('latin1');
    let i = this.buf.indexOf('\n');
    while (i >= 0) {
      this.lines.push(this.buf.slice(0, i).replace(/\r$/, ''));
      this.buf = this.buf.slice(i + 1);
      i = this.buf.indexOf('\n');
    }
    if (this.buf.length > 64 * 1024) this.fail(new Error('reply line too long'));
    this.wake();
  };
  private readonly onError = (e: Error) => this.fail(e);
  private readonly onClose = () => this.fail(new Error('connection closed by next hop'));

  constructor(sock: Socket, timeoutMs: number) {
    this.sock = sock;
    this.timeoutMs = timeoutMs;
    this.attach();
  }

  private attach(): void {
    this.sock.on('data', this.onData);
    this.sock.on('error', this.onError);
    this.sock.on('close', this.onClose);
  }

  private detach(): void {
    this.sock.off('data', this.onData);
    this.sock.off('error', this.onError);
    this.sock.off('close', this.onClose);
  }

  private fail(e: Error): void {
    if (!this.error) this.error = e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async line(): Promise<string> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout waiting for reply');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async reply(): Promise<Reply> {
    const texts: string[] = [];
    for (;;) {
      const l = await this.line();
      const m = /^(\d{3})([ -])(.*)$/.exec(l) ?? /^(\d{3})()$/.exec(l);
      if (!m) throw new ProtocolError(`unparseable reply: ${l.slice(0, 200)}`);
      texts.push(m[3] ?? '');
      if (m[2] !== '-') return { code: Number(m[1]), text: `${m[1]} ${texts.join(' ')}`.slice(0, 1000) };
    }
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Many slices in one go (corked: one writev, not one syscall per slice). */
  writeAll(parts: Buffer[]): void {
    this.sock.cork();
    for (const p of parts) this.sock.write(p);
    process.nextTick(() => this.sock.uncork());
  }

  async command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  get secure(): boolean {
    return 'encrypted' in this.sock && (this.sock as TLSSocket).encrypted === true;
  }

  get socket(): Socket | TLSSocket {
    return this.sock;
  }

  async upgrade(servername: string | undefined, extra?: ConnectionOptions): Promise<void> {
    this.detach();
    const plain = this.sock as Socket;
    const tls = await new Promise<TLSSocket>((resolve, reject) => {
      const t = tlsConnect({
        socket: plain,
        // Opportunistic TLS (RFC 7435): encrypt against passive listeners, do not verify.
        rejectUnauthorized: false,
        ...(servername && !/^[\d.:]+$/.test(servername) ? { servername } : {}),
        // a TLS policy's CAs and name; its check runs after the handshake (tls-requirement.ts)
        ...extra,
      });
      const to = setTimeout(() => {
        t.destroy();
        reject(new Error('TLS handshake timeout'));
      }, this.timeoutMs);
      t.once('secureConnect', () => {
        clearTimeout(to);
        resolve(t);
      });
      t.once('error', (e) => {
        clearTimeout(to);
        reject(e);
      });
    });
    this.sock = tls;
    this.lines = [];
    this.buf = '';
    this.attach();
  }

  /** Idle in the session cache: do not keep the process alive for it. */
  idle(yes: boolean): void {
    if (yes) this.sock.unref();
    else this.sock.ref();
  }

  end(): void {
    this.detach();
    this.sock.on('error', () => undefined);
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 1000).unref();
  }
}

function connectTcp(to: { host: string; port: number } | { path: string }, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(to);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect timeout to ${'path' in to ? to.path : `${to.host}:${to.port}`}`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * Deliver one message to one next hop. Never throws: connection failures become `deferred` results
 * for every recipient, reply codes map per recipient (2xx sent, 4xx deferred, 5xx bounced).
 */
export async function smtpSend(opts: SmtpSendOptions): Promise<SmtpSendResult> {
  const seen: { failure?: TlsOutcomeFailure } = {};
  const first = await attempt(opts, opts.starttls ?? 'opportunistic', seen);
  // opportunistic: fall back to plain text; a TLS policy never does (attempt refused it already)
  const res = first.tlsFailed && !opts.tls?.required ? await attempt(opts, 'never', {}) : first;
  return seen.failure ? { ...res, tlsFailure: seen.failure } : res;
}

async function attempt(
  opts: SmtpSendOptions,
  starttls: 'never' | 'opportunistic',
  seen: { failure?: TlsOutcomeFailure },
): Promise<SmtpSendResult & { tlsFailed?: boolean }> {
  const relay = opts.path ? `unix:${opts.path}` : `${opts.host}[${opts.host}]:${opts.port}`;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const all = (status: 'deferred' | 'bounced', response: string, code?: number): RecipientResult[] =>
    opts.recipients.map((recipient) => ({
      recipient,
      status,
      response,
      relay,
      ...(code ? { code } : {}),
      ...(enhancedOf(response.slice(4)) ? { enhanced: enhancedOf(response.slice(4)) } : {}),
    }));
  const fromReply = (r: Reply): RecipientResult[] => {
    const st = statusFor(r.code);
    return all(st === 'sent' ? 'deferred' : st, r.text, r.code);
  };

  const key = `${opts.lmtp ? 'lmtp' : 'smtp'}|${opts.path ? `unix:${opts.path}` : `${opts.host}|${opts.port}`}|${opts.heloName}|${starttls}|${opts.tls?.id ?? ''}`;
  // a TLS policy's failure: counted always; when it requires TLS, nothing is sent in clear (451 4.7.5)
  const tlsFailed = (f: TlsOutcomeFailure): SmtpSendResult | undefined => {
    seen.failure = f;
    return opts.tls?.required ? { results: all('deferred', `451 4.7.5 TLS required by policy: ${f.detail}`.slice(0, 500), 451), tls: false } : undefined;
  };
  let c: Conversation | undefined;
  let r: Reply | undefined;
  // A cached session from an earlier delivery: RSET proves it is still usable.
  while (opts.reuse && !c) {
    const s = takeCached(key);
    if (!s) break;
    try {
      if ((await s.c.command('RSET')).code === 250) {
        c = s.c;
        r = s.ehlo;
      } else s.c.end();
    } catch {
      s.c.end();
    }
  }
  let keep = false;
  const results: RecipientResult[] = [];
  let stage = 'greeting';
  if (!c) {
    let sock: Socket;
    try {
      sock = await connectTcp(opts.path ? { path: opts.path } : { host: opts.host, port: opts.port }, Math.min(timeoutMs, 30_000));
    } catch (e) {
      return { results: all('deferred', `connect to ${opts.path ?? `${opts.host}:${opts.port}`}: ${(e as Error).message}`), tls: false };
    }
    c = new Conversation(sock, timeoutMs);
  }
  const conv = c;
  try {
    if (!r) {
      r = await conv.reply();
      if (r.code !== 220) return { results: fromReply(r), tls: false };
      stage = 'helo';
      const hello = async (): Promise<Reply> => {
        const h = await conv.command(`${opts.lmtp ? 'LHLO' : 'EHLO'} ${opts.heloName}`);
        if (h.code !== 250 && !opts.lmtp && h.code >= 500) return conv.command(`HELO ${opts.heloName}`);
        return h;
      };
      r = await hello();
      if (r.code !== 250) return { results: fromReply(r), tls: false };
      const offered = /(^|\s)STARTTLS(\s|$)/im.test(r.text.replace(/^250 /, ''));
      if (starttls === 'opportunistic' && offered) {
        stage = 'starttls';
        const s = await conv.command('STARTTLS');
        if (s.code !== 220) {
          const refused = tlsFailed({ type: 'starttls-not-supported', detail: `STARTTLS refused: ${s.text.slice(0, 200)}` });
          if (refused) return refused;
        }
        if (s.code === 220) {
          try {
            await conv.upgrade(opts.servername ?? opts.host, opts.tls?.options);
          } catch (e) {
            const refused = tlsFailed({ type: 'validation-failure', detail: `TLS handshake failed: ${(e as Error).message}` });
            return refused ?? { results: [], tls: false, tlsFailed: true };
          }
          const bad = opts.tls?.check?.(conv.socket as TLSSocket);
          const refused = bad && tlsFailed(bad);
          if (refused) return refused;
          stage = 'helo';
          r = await hello();
          if (r.code !== 250) return { results: fromReply(r), tls: true };
        }
      } else if (starttls === 'opportunistic' && (opts.tls !== undefined || (!opts.lmtp && !opts.path))) {
        const refused = tlsFailed({ type: 'starttls-not-supported', detail: `${opts.servername ?? opts.host} did not offer STARTTLS` });
        if (refused) return refused;
      }
    }
    const ehlo = r;
    const c = conv;
    const ext = ` ${ehlo.text.replace(/^250 /, '')} `;
    const has = (name: string) => new RegExp(`\\s${name}[\\s=]`, 'i').test(ext);
    let params = has('SIZE') ? ` SIZE=${opts.message.length}` : '';
    // 8-bit content goes out declared when the next hop knows 8BITMIME (as received otherwise).
    if (has('8BITMIME') && opts.message.some((b) => b > 0x7f)) params += ' BODY=8BITMIME';
    // RFC 6531: internationalised addresses need SMTPUTF8, and a next hop without it cannot take them.
    if ([opts.sender, ...opts.recipients].some((a) => /[^\x00-\x7f]/.test(a))) {
      if (!has('SMTPUTF8')) {
        return { results: all('bounced', '553 5.6.7 next hop does not support SMTPUTF8 (internationalised address)', 553), tls: c.secure };
      }
      params += ' SMTPUTF8';
    }
    stage = 'mail';
    // RFC 2920: MAIL, every RCPT and DATA leave in one write and their replies are read in order (one round
    // trip instead of two plus one per recipient); without PIPELINING, one command per reply as before.
    const pipelined = has('PIPELINING');
    const mail = `MAIL FROM:<${opts.sender}>${params}\r\n`;
    c.write(pipelined ? `${mail}${opts.recipients.map((rcpt) => `RCPT TO:<${rcpt}>\r\n`).join('')}DATA\r\n` : mail);
    let m = await c.reply();
    // pipelined, the RCPT and DATA replies are still to come: the session is not reused (conv.end below)
    if (m.code !== 250) return { results: fromReply(m), tls: c.secure };
    stage = 'rcpt';
    const accepted: string[] = [];
    for (const rcpt of opts.recipients) {
      const rr = pipelined ? await c.reply() : await c.command(`RCPT TO:<${rcpt}>`);
      if (rr.code === 250 || rr.code === 251) accepted.push(rcpt);
      else {
        const st = statusFor(rr.code);
        const en = enhancedOf(rr.text.slice(4));
        results.push({
          recipient: rcpt,
          status: st === 'sent' ? 'deferred' : st,
          code: rr.code,
          response: rr.text,
          relay,
          ...(en ? { enhanced: en } : {}),
        });
      }
    }
    stage = 'data';
    if (accepted.length === 0) {
      if (pipelined && (await c.reply()).code === 354) {
        // a server that opened DATA without a recipient (RFC 2920 says it must not): an empty message, never sent on
        c.write('.\r\n');
        await c.reply();
      }
      keep = !!opts.reuse;
      if (!keep) await c.command('QUIT').catch(() => undefined);
      return { results, tls: c.secure };
    }
    m = pipelined ? await c.reply() : await c.command('DATA');
    if (m.code !== 354) {
      const st = statusFor(m.code);
      for (const rcpt of accepted) {
        results.push({ recipient: rcpt, status: st === 'sent' ? 'deferred' : st, code: m.code, response: m.text, relay });
      }
      return { results, tls: c.secure };
    }
    stage = 'end of data';
    c.writeAll(dotStuffParts(opts.message));
    // SMTP: one reply for all; LMTP: one reply per accepted recipient, in RCPT order (RFC 2033).
    const replies = opts.lmtp ? accepted.length : 1;
    for (let i = 0; i < replies; i++) {
      const d = await c.reply();
      const en = enhancedOf(d.text.slice(4));
      const targets = opts.lmtp ? [accepted[i]!] : accepted;
      for (const rcpt of targets) {
        results.push({ recipient: rcpt, status: statusFor(d.code), code: d.code, response: d.text, relay, ...(en ? { enhanced: en } : {}) });
      }
    }
    keep = !!opts.reuse;
    if (!keep) {
      stage = 'quit';
      await c.command('QUIT').catch(() => undefined);
    }
    return { results, tls: c.secure };
  } catch (e) {
    // Lost mid-conversation: anything without a final answer is deferred (may duplicate, never lose).
    const answered = new Set(results.map((r) => r.recipient));
    const rest = all('deferred', `lost connection during ${stage}: ${(e as Error).message}`);
    return { results: [...results, ...rest.filter((r) => !answered.has(r.recipient))], tls: false };
  } finally {
    if (keep && r) putCached(key, conv, r);
    else conv.end();
  }
}
