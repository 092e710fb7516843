// A raw SMTP client for tests: sends exact command lines, returns exact replies (code, text, lines), keeps a
// transcript, and bounds every wait with a timeout. The server's replies are untrusted text; nothing is parsed
// beyond the reply code.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface SmtpReply {
  code: number;
  /** Every line's text after the code and separator (`250-`, `250 `), joined with \n. */
  text: string;
  /** The same texts, one per line (EHLO keywords: `PIPELINING`, `SIZE 2048`, ...). */
  lines: string[];
}

export interface SmtpConnectOptions {
  host?: string;
  /** The default wait for the connection and for each reply (default 10 s). */
  timeoutMs?: number;
}

interface Waiter {
  resolve: (r: SmtpReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class SmtpClient {
  /** `C: line` / `S: line`, in order: put it in assertion messages. */
  readonly transcript: string[] = [];
  readonly timeoutMs: number;
  #socket: Socket | TLSSocket;
  #buf = '';
  #lines: string[] = [];
  #replies: SmtpReply[] = [];
  #waiters: Waiter[] = [];
  #closed = false;

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.timeoutMs = timeoutMs;
    this.#attach(socket);
  }

  /** Opens the connection; the greeting is the first `read()` (so a test can also talk before it). */
  static connect(port: number, opts: SmtpConnectOptions = {}): Promise<SmtpClient> {
    const host = opts.host ?? '127.0.0.1';
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SmtpClient(socket, timeoutMs));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** True once the connection is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', (d: Buffer) => this.#onData(d.toString('latin1')));
    socket.on('close', () => this.#onClose());
    socket.on('error', () => {}); // surfaces as 'close'
  }

  #onData(s: string): void {
    this.#buf += s;
    for (let i = this.#buf.indexOf('\r\n'); i >= 0; i = this.#buf.indexOf('\r\n')) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 2);
      this.transcript.push(`S: ${line}`);
      this.#lines.push(line.slice(4));
      if (line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), text: this.#lines.join('\n'), lines: this.#lines };
      this.#lines = [];
      const w = this.#waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(reply);
      } else this.#replies.push(reply);
    }
  }

  #onClose(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.#error('connection closed'));
    }
  }

  #error(what: string): Error {
    return new Error(`${what}; transcript:\n${this.transcript.join('\n')}`);
  }

  /** The next whole reply; rejects after timeoutMs, or when the connection closes before it. */
  read(timeoutMs = this.timeoutMs): Promise<SmtpReply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    if (this.#closed) return Promise.reject(this.#error('connection closed'));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          reject(this.#error(`no SMTP reply in ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  /** Raw bytes, as they are (e.g. a command before the greeting, or a pipelined batch). */
  write(raw: string | Buffer): void {
    this.transcript.push(typeof raw === 'string' ? `C: ${raw.replace(/\r\n$/, '')}` : `C: <${raw.length} bytes>`);
    this.#socket.write(raw);
  }

  /** One command line (CRLF added) and its reply. */
  cmd(line: string, timeoutMs?: number): Promise<SmtpReply> {
    this.transcript.push(`C: ${line}`);
    this.#socket.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /**
   * STARTTLS, then the handshake over the same socket; resolves with the TLS socket, rejects when the
   * server refuses or the handshake fails. Trusts any certificate unless opts say otherwise.
   */
  async starttls(opts: ConnectionOptions = {}, timeoutMs = this.timeoutMs): Promise<TLSSocket> {
    const r = await this.cmd('STARTTLS', timeoutMs);
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.text}`);
    const plain = this.#socket as Socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'localhost', ...opts });
    this.#socket = secure;
    this.#attach(secure);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(this.#error(`TLS handshake not done in ${timeoutMs} ms`));
      }, timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    this.transcript.push(`C: <TLS ${secure.getProtocol()} ${secure.getCipher().standardName}>`);
    return secure;
  }

  /** DATA, then (on 354) the message with `sendBody`; returns the final reply, or DATA's refusal. */
  async data(message: string | Buffer, timeoutMs = 60_000): Promise<SmtpReply> {
    const go = await this.cmd('DATA');
    if (go.code !== 354) return go;
    return this.sendBody(message, timeoutMs);
  }

  /**
   * After a 354: the message (line ends made CRLF, dot-stuffed) and the end-of-data dot; returns the final
   * reply. A string goes as UTF-8, a Buffer byte for byte.
   */
  sendBody(message: string | Buffer, timeoutMs = 60_000): Promise<SmtpReply> {
    const text = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    const body = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    const wire = `${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`;
    this.transcript.push(`C: <message, ${body.length} chars>`);
    this.#socket.write(Buffer.isBuffer(message) ? Buffer.from(wire, 'latin1') : wire);
    return this.read(timeoutMs);
  }

  /** QUIT (unless the server closed first) and close; never throws. */
  async quit(timeoutMs = 5000): Promise<void> {
    if (!this.#closed && !this.#socket.destroyed) await this.cmd('QUIT', timeoutMs).catch(() => undefined);
    this.#socket.destroy();
  }

  /** Drop the connection without QUIT. */
  destroy(): void {
    this.#socket.destroy();
  }
}

/** AUTH PLAIN's initial response for user and password. */
export const authPlain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

/** Where a transaction stopped: `done` (250 after DATA), a refusal at a stage, or a lost connection. */
export interface SmtpOutcome {
  stage: 'connect' | 'xclient' | 'helo' | 'mail' | 'rcpt' | 'data' | 'done';
  /** The reply code at that stage; 0 when the connection failed or dropped without a reply. */
  code: number;
  text: string;
  /** True once DATA got its 354: a lost connection after that is ambiguous (the message may be queued). */
  afterDot: boolean;
  ms: number;
}

export interface SmtpTransactionOptions {
  port: number;
  host?: string;
  /** Speak as another client: EHLO `xclientHelo`, then `XCLIENT <xclient>` (e.g. `ADDR=192.0.2.1 NAME=[UNAVAILABLE]`). */
  xclient?: string;
  xclientHelo?: string;
  /** EHLO name (default mail.sender.example). */
  helo?: string;
  from: string;
  to: string;
  message: string | Buffer;
  /** Connect and reply timeout per step (default 30 s). */
  timeoutMs?: number;
}

/** One whole transaction (greeting, [XCLIENT,] EHLO, MAIL, RCPT, DATA), then QUIT. Never throws: failures are outcomes. */
export async function smtpTransaction(o: SmtpTransactionOptions): Promise<SmtpOutcome> {
  const t0 = Date.now();
  const timeoutMs = o.timeoutMs ?? 30_000;
  let stage: SmtpOutcome['stage'] = 'connect';
  let afterDot = false;
  let c: SmtpClient | undefined;
  const out = (r: { code: number; text: string }): SmtpOutcome => ({ stage, code: r.code, text: r.text, afterDot, ms: Date.now() - t0 });
  try {
    c = await SmtpClient.connect(o.port, { host: o.host, timeoutMs });
    let r = await c.read();
    if (r.code !== 220) return out(r);
    if (o.xclient !== undefined) {
      stage = 'xclient';
      r = await c.cmd(`EHLO ${o.xclientHelo ?? 'xclient.moat.test'}`);
      if (r.code !== 250) return out(r);
      r = await c.cmd(`XCLIENT ${o.xclient}`);
      if (r.code !== 220) return out(r);
    }
    stage = 'helo';
    r = await c.cmd(`EHLO ${o.helo ?? 'mail.sender.example'}`);
    if (r.code !== 250) return out(r);
    stage = 'mail';
    r = await c.cmd(`MAIL FROM:<${o.from}>`);
    if (r.code !== 250) return out(r);
    stage = 'rcpt';
    r = await c.cmd(`RCPT TO:<${o.to}>`);
    if (r.code !== 250) return out(r);
    stage = 'data';
    r = await c.cmd('DATA');
    if (r.code !== 354) return out(r);
    afterDot = true;
    r = await c.sendBody(o.message, timeoutMs);
    if (r.code === 250) stage = 'done';
    return out(r);
  } catch (e) {
    return out({ code: 0, text: (e as Error).message.split('\n')[0] ?? '' });
  } finally {
    await c?.quit();
  }
}
