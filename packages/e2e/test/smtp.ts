// A small raw SMTP client for the integration suite: every command and reply is visible to the test.
// Talks only to the stack's published loopback ports; the server's replies are untrusted text.
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  /** Every line's text after the code and separator, joined with newlines. */
  text: string;
  lines: string[];
}

export class SmtpClient {
  #socket: net.Socket | tls.TLSSocket;
  #buf = '';
  #waiters: Array<() => void> = [];
  #closed = false;
  banner: Reply | undefined;
  readonly transcript: string[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  static async connect(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<SmtpClient> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new SmtpClient(socket);
    c.banner = await c.read(timeoutMs);
    return c;
  }

  #attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      for (const w of this.#waiters.splice(0)) w();
    });
    const end = () => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w();
    };
    socket.on('close', end);
    socket.on('end', end);
    socket.on('error', end);
  }

  /** Reads one (possibly multi-line) reply. */
  async read(timeoutMs = 30_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.#buf.split('\r\n');
      const done = lines.findIndex((l) => /^\d{3} /.test(l) || /^\d{3}$/.test(l));
      if (done >= 0) {
        const mine = lines.slice(0, done + 1);
        this.#buf = lines.slice(done + 1).join('\r\n');
        for (const l of mine) this.transcript.push(`S: ${l}`);
        return { code: Number(mine[done]!.slice(0, 3)), text: mine.map((l) => l.slice(4)).join('\n'), lines: mine };
      }
      if (this.#closed) throw new Error(`connection closed; transcript:\n${this.transcript.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SMTP reply in ${timeoutMs} ms; transcript:\n${this.transcript.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async cmd(line: string, timeoutMs?: number): Promise<Reply> {
    this.transcript.push(`C: ${line}`);
    this.#socket.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** STARTTLS and the TLS handshake (the test trusts the stack's self-signed certificate). */
  async starttls(servername = 'mx.moat.test'): Promise<tls.TLSSocket> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.text}`);
    const plain = this.#socket as net.Socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, servername, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#attach(secure);
    return secure;
  }

  /** DATA with a dot-stuffed body; returns the final reply (354 checked on the way). */
  async data(message: string, timeoutMs = 60_000): Promise<Reply> {
    const go = await this.cmd('DATA');
    if (go.code !== 354) return go;
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.transcript.push(`C: <${body.length} bytes>`);
    this.#socket.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return this.read(timeoutMs);
  }

  async quit(): Promise<void> {
    if (!this.#closed) {
      try {
        await this.cmd('QUIT', 5000);
      } catch {
        // the server may close first
      }
    }
    this.#socket.destroy();
  }
}

/** AUTH PLAIN's initial response for user and password. */
export const authPlain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

/** A small RFC 5322 message with a unique Message-ID the test can find again in the maildir. */
export function message({ from, to, subject, body, id }: { from: string; to: string; subject: string; body: string; id: string }): string {
  return [
    `From: <${from}>`,
    `To: <${to}>`,
    `Subject: ${subject}`,
    `Message-ID: <${id}@e2e.moat.test>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    body,
    '',
  ].join('\r\n');
}

/** SpamAssassin's GTUBE test string: any spamd scores it 1000. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
