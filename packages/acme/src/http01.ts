// The HTTP-01 responder: answers /.well-known/acme-challenge/TOKEN on port 80 while an order is open.
// Talks to the ACME server's validators (anyone on the net); serves only the tokens of open challenges.
import { createServer, type Server } from 'node:http';

export interface Http01Responder {
  set(token: string, keyAuthorization: string): void;
  remove(token: string): void;
  /** The port it listens on (tests bind 0). */
  port(): number;
  close(): Promise<void>;
}

const PREFIX = '/.well-known/acme-challenge/';

/** Listen on `host:port` (`0.0.0.0:80` in production). */
export async function startHttp01(listen: { host: string; port: number }): Promise<Http01Responder> {
  const tokens = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    const token = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : '';
    const answer = /^[A-Za-z0-9_-]{1,200}$/.test(token) ? tokens.get(token) : undefined;
    if (req.method !== 'GET' || answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  server.on('error', () => undefined);
  return {
    set: (t, k) => void tokens.set(t, k),
    remove: (t) => void tokens.delete(t),
    port: () => {
      const a = server.address();
      return typeof a === 'object' && a ? a.port : listen.port;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
