// Test plumbing: real smtp-server sinks (SMTP or LMTP) on loopback, a settable clock, a quiet logger.
// Talks only to 127.0.0.1.
import { createLogger } from '@moat/observe';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { freePort } from '@moat/testkit';

export interface SinkMessage {
  /** MAIL FROM parameters (BODY, SIZE, SMTPUTF8...). */
  mailArgs: Record<string, unknown>;
  sender: string;
  recipients: string[];
  data: Buffer;
  secure: boolean;
  helo: string;
}

/** A reply to force: `null` accepts. */
export type Forced = { code: number; message: string } | null;

export interface SinkOptions {
  lmtp?: boolean;
  port?: number;
  /** Listen on this unix-domain socket instead of a loopback port. */
  path?: string;
  /** Offer STARTTLS (smtp-server's built-in self-signed certificate). */
  tls?: boolean;
  onRcpt?: (rcpt: string, session: SMTPServerSession) => Forced;
  /** Per recipient after DATA (LMTP) or for the whole message (SMTP, first recipient decides). */
  onData?: (rcpt: string, data: Buffer) => Forced;
  /** Delay before answering DATA, ms (to catch concurrent deliveries). */
  dataDelayMs?: number;
  /** Do not advertise SMTPUTF8. */
  noSmtpUtf8?: boolean;
  /** Do not advertise PIPELINING (the client then waits for each reply). */
  noPipelining?: boolean;
}

export interface Sink {
  port: number;
  messages: SinkMessage[];
  /** Connections accepted so far. */
  connects(): number;
  close(): Promise<void>;
}

function err(f: { code: number; message: string }): Error {
  const e = new Error(f.message) as Error & { responseCode: number };
  e.responseCode = f.code;
  return e;
}

export async function startSink(opts: SinkOptions = {}): Promise<Sink> {
  const port = opts.port ?? (await freePort());
  const messages: SinkMessage[] = [];
  let connects = 0;
  const server = new SMTPServer({
    onConnect(_session, cb) {
      connects++;
      cb();
    },
    lmtp: opts.lmtp ?? false,
    authOptional: true,
    disabledCommands: opts.tls ? [] : ['STARTTLS'],
    logger: false,
    // never ask the machine's resolver about 127.0.0.1 (network rule)
    disableReverseLookup: true,
    hideSMTPUTF8: opts.noSmtpUtf8 ?? false,
    hidePIPELINING: opts.noPipelining ?? false,
    size: 0,
    onRcptTo(address, session, cb) {
      const f = opts.onRcpt?.(address.address, session) ?? null;
      cb(f ? err(f) : null);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        const rcpts = session.envelope.rcptTo.map((r) => r.address);
        const finish = () => {
          const forced = rcpts.map((r) => opts.onData?.(r, data) ?? null);
          const ok = rcpts.filter((_r, i) => forced[i] === null);
          if (ok.length) {
            messages.push({
              mailArgs: (session.envelope.mailFrom ? session.envelope.mailFrom.args : {}) as Record<string, unknown>,
              sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              recipients: ok,
              data,
              secure: session.secure,
              helo: session.hostNameAppearsAs,
            });
          }
          if (opts.lmtp) cb(null, forced.map((f) => (f ? err(f) : 'OK delivered')) as never);
          else if (forced[0]) cb(err(forced[0]));
          else cb(null, 'OK queued');
        };
        if (opts.dataDelayMs) setTimeout(finish, opts.dataDelayMs);
        else finish();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (opts.path) server.listen(opts.path, () => resolve());
    else server.listen(port, '127.0.0.1', () => resolve());
  });
  server.on('error', () => undefined);
  return {
    port,
    messages,
    connects: () => connects,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function fakeClock(start = Date.UTC(2026, 0, 5, 12, 0, 0)): { now(): number; t: number; advance(ms: number): void } {
  return {
    t: start,
    now() {
      return this.t;
    },
    advance(ms: number) {
      this.t += ms;
    },
  };
}

/** A logger that keeps its lines for assertions. */
export function memoryLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = {
    write(s: string) {
      for (const l of s.split('\n')) if (l) lines.push(JSON.parse(l));
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { logger: createLogger('queue-test', { level: 'info', destination }), lines };
}

export function message(subject: string, body: string, extra = ''): Buffer {
  return Buffer.from(
    `From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.test>\r\n${extra}\r\n${body}\r\n`,
  );
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
