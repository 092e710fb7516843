// A raw SMTP client for the cluster suite, as a sending MTA uses it: speak as a chosen client address
// (XCLIENT, trusted from the test network only), and report where a transaction stopped and why.
// Talks only to the nodes' published loopback ports; the servers' replies are untrusted text.
import net from 'node:net';

export interface Reply {
  code: number;
  text: string;
}

export class SmtpClient {
  #socket: net.Socket;
  #buf = '';
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly transcript: string[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      this.#wake();
    });
    const end = () => {
      this.#closed = true;
      this.#wake();
    };
    socket.on('close', end);
    socket.on('end', end);
    socket.on('error', end);
  }

  /** Connects and reads the banner (returned; a client that got 4xx/5xx there should close). */
  static async connect(port: number, timeoutMs = 15_000): Promise<{ client: SmtpClient; banner: Reply }> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to 127.0.0.1:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const client = new SmtpClient(socket);
    return { client, banner: await client.read(timeoutMs) };
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async read(timeoutMs = 30_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.#buf.split('\r\n');
      const done = lines.findIndex((l) => /^\d{3}( |$)/.test(l));
      if (done >= 0) {
        const mine = lines.slice(0, done + 1);
        this.#buf = lines.slice(done + 1).join('\r\n');
        for (const l of mine) this.transcript.push(`S: ${l}`);
        return { code: Number(mine[done]?.slice(0, 3)), text: mine.map((l) => l.slice(4)).join('\n') };
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

  /** After a 354: the dot-stuffed message and the end-of-data dot; returns the final reply. */
  async body(message: string, timeoutMs = 60_000): Promise<Reply> {
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.transcript.push(`C: <${body.length} bytes>`);
    this.#socket.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return this.read(timeoutMs);
  }

  async quit(): Promise<void> {
    if (!this.#closed) await this.cmd('QUIT', 5000).catch(() => undefined);
    this.#socket.destroy();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** A small message; `tag` goes into X-Moat-Tag so the test can count its copies in the mailstore. */
export function message({ from, to, tag, subject = 'cluster' }: { from: string; to: string; tag: string; subject?: string }): string {
  return [
    `From: <${from}>`,
    `To: <${to}>`,
    `Subject: ${subject} ${tag}`,
    `Message-ID: <${tag}@e2e-cluster.moat.test>`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `X-Moat-Tag: ${tag}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Hello from the moat cluster suite.',
    'Regards,',
    'E2E',
    '',
  ].join('\r\n');
}

/** Where a transaction stopped: `done` (250 after DATA), a refusal at a stage, or a lost connection. */
export interface Outcome {
  stage: 'connect' | 'xclient' | 'helo' | 'mail' | 'rcpt' | 'data' | 'done';
  /** The reply code at that stage; 0 when the connection failed or dropped without a reply. */
  code: number;
  text: string;
  /** True once the end-of-data dot was sent: a lost connection after it is ambiguous (maybe accepted). */
  afterDot: boolean;
  ms: number;
}

export interface SendOptions {
  port: number;
  clientIp: string;
  helo?: string;
  from: string;
  to: string;
  tag: string;
  /** Reply timeout per command. */
  timeoutMs?: number;
}

/** One SMTP transaction as `clientIp` (XCLIENT). Never throws: failures are outcomes. */
export async function send(o: SendOptions): Promise<Outcome> {
  const t0 = Date.now();
  const timeout = o.timeoutMs ?? 30_000;
  let stage: Outcome['stage'] = 'connect';
  let afterDot = false;
  let c: SmtpClient | undefined;
  const out = (code: number, text: string): Outcome => ({ stage, code, text, afterDot, ms: Date.now() - t0 });
  try {
    const conn = await SmtpClient.connect(o.port, timeout);
    c = conn.client;
    if (conn.banner.code !== 220) return out(conn.banner.code, conn.banner.text);
    stage = 'xclient';
    let r = await c.cmd('EHLO e2e-cluster.moat.test', timeout);
    if (r.code !== 250) return out(r.code, r.text);
    r = await c.cmd(`XCLIENT ADDR=${o.clientIp} NAME=[UNAVAILABLE]`, timeout);
    if (r.code !== 220) return out(r.code, r.text);
    stage = 'helo';
    r = await c.cmd(`EHLO ${o.helo ?? 'mail.sender.example'}`, timeout);
    if (r.code !== 250) return out(r.code, r.text);
    stage = 'mail';
    r = await c.cmd(`MAIL FROM:<${o.from}>`, timeout);
    if (r.code !== 250) return out(r.code, r.text);
    stage = 'rcpt';
    r = await c.cmd(`RCPT TO:<${o.to}>`, timeout);
    if (r.code !== 250) return out(r.code, r.text);
    stage = 'data';
    const go = await c.cmd('DATA', timeout);
    if (go.code !== 354) return out(go.code, go.text);
    // from here a lost connection is ambiguous: the server may have queued the message
    afterDot = true;
    r = await c.body(message({ from: o.from, to: o.to, tag: o.tag }), timeout);
    if (r.code !== 250) return out(r.code, r.text);
    stage = 'done';
    return out(r.code, r.text);
  } catch (e) {
    return out(0, (e as Error).message.split('\n')[0] ?? '');
  } finally {
    await c?.quit();
  }
}
