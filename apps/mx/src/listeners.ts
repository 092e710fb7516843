// The listening sockets of moat-mx: the SMTP and submission listeners (--listen/--submission, else mx.listen.*),
// each connection served by the config generation current when it connected. Talks to whoever connects.
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { type Config, parseHostPort } from '@moat/config';
import type { Reloader } from '@moat/runtime';
import type { MxGeneration } from './generation.ts';

/** A listener's address; a bare port listens on every IPv4 address. */
export const splitHostPort = (s: string): { host: string; port: number } => parseHostPort(s, { defaultHost: '0.0.0.0' });

export interface WantedListener {
  at: string;
  submission: boolean;
}

/** With --listen/--submission only those are opened, without either every address of mx.listen.smtp and mx.listen.submission. */
export function wantedListeners(args: { listen?: string | undefined; submission?: string | undefined }, config: Config): WantedListener[] {
  const explicit = args.listen !== undefined || args.submission !== undefined;
  return explicit
    ? [...(args.listen ? [{ at: args.listen, submission: false }] : []), ...(args.submission ? [{ at: args.submission, submission: true }] : [])]
    : [...config.mx.listen.smtp.map((at) => ({ at, submission: false })), ...config.mx.listen.submission.map((at) => ({ at, submission: true }))];
}

/** A listening socket whose connections go to `accept` (which config generation serves them is its choice). */
function listenShared(host: string, port: number, accept: (socket: Socket) => void): Promise<Server> {
  const server = createServer(accept);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Open each wanted listener; `bound` names them for the start log line (`smtp 127.0.0.1:25`). */
export async function openListeners(wanted: readonly WantedListener[], generations: Reloader<MxGeneration>): Promise<{ listeners: Server[]; bound: string[] }> {
  const listeners: Server[] = [];
  const bound: string[] = [];
  for (const w of wanted) {
    const { host, port } = splitHostPort(w.at);
    const listener = await listenShared(host, port, (socket) => {
      // the session runs to its end on the generation current when it connected
      const lease = generations.acquire();
      socket.once('close', () => lease.release());
      lease.value.accept(socket, w.submission);
    });
    listeners.push(listener);
    const a = listener.address() as AddressInfo;
    bound.push(`${w.submission ? 'submission' : 'smtp'} ${a.address}:${a.port}`);
  }
  return { listeners, bound };
}
