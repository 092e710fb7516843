// A bare SMTP client for tests: sends exact command lines and returns exact replies (code, enhanced code, text).
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface Reply {
  code: number;
  /** All lines joined by \n, without the `250-` prefixes. */
  text: string;
  lines: string[];
}

export class SmtpConn {
  socket: Socket | TLSSocket;
  #buf = '';
  #lines: string[] = [];
  #waiters: Array<(r: Reply) => void> = [];
  #replies: Reply[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#attach(socket);
  }

  #attach(socket: Socket | TLSSocket) {
    socket.on('data', (d: Buffer) => this.#onData(d.toString('latin1')));
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }

  #onData(s: string) {
    this.#buf += s;
    let i = this.#buf.indexOf('\r\n');
    while (i >= 0) {
      const line = this.#buf.slice(0, i);
      this.#buf = this.#buf.slice(i + 2);
      this.#lines.push(line.slice(4));
      if (line[3] !== '-') {
        const r = { code: Number(line.slice(0, 3)), lines: this.#lines, text: this.#lines.join('\n') };
        this.#lines = [];
        const w = this.#waiters.shift();
        if (w) w(r);
        else this.#replies.push(r);
      }
      i = this.#buf.indexOf('\r\n');
    }
  }

  static open(port: number, host = '127.0.0.1'): Promise<SmtpConn> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ port, host });
      s.once('connect', () => resolve(new SmtpConn(s)));
      s.once('error', reject);
    });
  }

  /** Next reply (or rejects after timeoutMs / when the connection closes first). */
  read(timeoutMs = 10_000): Promise<Reply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply')), timeoutMs);
      const onClose = () => {
        clearTimeout(t);
        reject(new Error('connection closed'));
      };
      this.socket.once('close', onClose);
      this.#waiters.push((x) => {
        clearTimeout(t);
        this.socket.off('close', onClose);
        resolve(x);
      });
    });
  }

  send(raw: string): void {
    this.socket.write(raw);
  }

  cmd(line: string, timeoutMs?: number): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** STARTTLS then the TLS handshake; resolves with the TLS socket (rejects when the handshake fails). */
  async starttls(opts: ConnectionOptions = {}): Promise<TLSSocket> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.text}`);
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const t = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'localhost', ...opts });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
    });
    this.socket = t;
    this.#attach(t);
    return t;
  }

  /** Send DATA, the message (dot-stuffed) and the final dot; returns the final reply. */
  async data(message: string | Buffer): Promise<Reply> {
    const r = await this.cmd('DATA');
    if (r.code !== 354) return r;
    const text = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    const body = text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(Buffer.from(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    return this.read(30_000);
  }

  async quit(): Promise<void> {
    if (!this.closed) {
      try {
        await this.cmd('QUIT', 2000);
      } catch {
        // already gone
      }
    }
    this.socket.destroy();
  }
}
