// The SMTP client's reply reader: lines off a socket that can be swapped for TLS, parsed into multi-line replies.
// Everything the server says is untrusted text: a reply is its three-digit code and bounded text, nothing else.
import type { Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { startTls } from './socket.ts';

export interface Reply {
  code: number;
  text: string;
}

export class ProtocolError extends Error {
  readonly reply: Reply | undefined;
  constructor(message: string, reply?: Reply) {
    super(message);
    this.reply = reply;
  }
}

/** The enhanced status code (RFC 3463) at the start of a reply's text, if any. */
export function enhancedOf(text: string): string | undefined {
  return /^([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
}

/** Line-oriented reply reader over a socket that can be swapped (STARTTLS). */
export class Conversation {
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
    const tls = await startTls(this.sock as Socket, servername, this.timeoutMs, extra);
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
