// One spamd request on its own connection: connect (bounded), send the head and the message, read the reply.
// Talks to the configured spamd only; its reply is parsed strictly (protocol.ts), never trusted as text.
import { connect, type Socket } from 'node:net';
import type { SpamdMessage } from './client.ts';
import { SpamdError, isSpamdError } from './errors.ts';
import { type LearnClass, parseReply, requestHead, type SpamdCommand, type SpamdReply } from './protocol.ts';

/** Where spamd listens and who the requests are for. */
export interface SpamdServer {
  host: string;
  port: number;
  user?: string | undefined;
  connectTimeoutMs?: number | undefined;
}

export function messageLength(message: SpamdMessage): number {
  if (Buffer.isBuffer(message)) return message.length;
  if (Array.isArray(message)) return (message as readonly Buffer[]).reduce((n, b) => n + b.length, 0);
  return (message as { length: number }).length;
}

function messageChunks(message: SpamdMessage): AsyncIterable<Buffer> | Iterable<Buffer> {
  if (Buffer.isBuffer(message)) return [message];
  if (Array.isArray(message)) return message as readonly Buffer[];
  return (message as { chunks: AsyncIterable<Buffer> | Iterable<Buffer> }).chunks;
}

export function exchange(
  options: SpamdServer,
  command: SpamdCommand,
  message: SpamdMessage | undefined,
  signal: AbortSignal,
  budget: number,
  learn?: LearnClass,
): Promise<SpamdReply> {
  return new Promise<SpamdReply>((resolve, reject) => {
    let settled = false;
    let connected = false;
    const chunks: Buffer[] = [];
    const socket: Socket = connect({ host: options.host, port: options.port });
    const connectMs = options.connectTimeoutMs ?? 2000;
    // a spamd that does not accept (SYN dropped, backlog full) fails fast instead of eating the whole budget
    const connectTimer = setTimeout(() => {
      finish(new SpamdError('ESPAMD_CONNECT', `${options.host}:${options.port}: no connection within ${connectMs} ms`));
    }, connectMs);
    const finish = (err: SpamdError | undefined, reply?: SpamdReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const onAbort = () => finish(new SpamdError('ESPAMD_TIMEOUT', `after ${budget} ms (${connected ? 'waiting for the answer' : 'connecting'})`));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const code = connected ? 'ESPAMD_IO' : 'ESPAMD_CONNECT';
      finish(new SpamdError(code, `${options.host}:${options.port}: ${e.code ?? e.message}`, { cause: e }));
    });
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('end', () => {
      if (chunks.length === 0) return finish(new SpamdError('ESPAMD_IO', 'spamd closed the connection without a reply'));
      try {
        finish(undefined, parseReply(Buffer.concat(chunks)));
      } catch (e) {
        finish(isSpamdError(e) ? e : new SpamdError('ESPAMD_PROTOCOL', String(e)));
      }
    });
    socket.on('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      socket.setNoDelay(true);
      send().catch((e) => finish(new SpamdError('ESPAMD_IO', String((e as Error)?.message ?? e), { cause: e })));
    });
    async function send() {
      const length = message === undefined ? 0 : messageLength(message);
      await write(requestHead(command, length, options.user, learn));
      if (message !== undefined) {
        let sent = 0;
        for await (const chunk of messageChunks(message)) {
          if (settled) return;
          sent += chunk.length;
          if (sent > length) throw new Error(`message longer than its declared ${length} bytes`);
          await write(chunk);
        }
        if (sent !== length) throw new Error(`message shorter (${sent}) than its declared ${length} bytes`);
      }
      // no half-close: spamd reads exactly Content-length bytes, answers, then closes
    }
    function write(b: Buffer): Promise<void> {
      return new Promise((ok, fail) => {
        if (settled) return ok();
        if (socket.write(b)) return ok();
        const onDrain = () => {
          socket.off('close', onClose);
          ok();
        };
        const onClose = () => {
          socket.off('drain', onDrain);
          fail(new Error('socket closed while sending'));
        };
        socket.once('drain', onDrain);
        socket.once('close', onClose);
      });
    }
  });
}
