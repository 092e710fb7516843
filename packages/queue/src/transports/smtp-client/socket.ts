// The SMTP client's sockets: TCP (or unix) connect and the STARTTLS handshake, each under a time limit.
// Trusts the operating system's sockets; a peer that never answers is cut off at the limit, never waited on.
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect, type TLSSocket } from 'node:tls';

/** `s` once `event` fired; destroyed and rejected with `timedOut()` after `timeoutMs`, rejected on its error. */
function ready<S extends Socket | TLSSocket>(s: S, event: 'connect' | 'secureConnect', timeoutMs: number, timedOut: () => Error): Promise<S> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      s.destroy();
      reject(timedOut());
    }, timeoutMs);
    s.once(event, () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export function connectTcp(to: { host: string; port: number } | { path: string }, timeoutMs: number): Promise<Socket> {
  return ready(netConnect(to), 'connect', timeoutMs, () => new Error(`connect timeout to ${'path' in to ? to.path : `${to.host}:${to.port}`}`));
}

/** The TLS handshake over a connected plain socket (after the server's 220 to STARTTLS). */
export async function startTls(plain: Socket, servername: string | undefined, timeoutMs: number, extra?: ConnectionOptions): Promise<TLSSocket> {
  const t = tlsConnect({
    socket: plain,
    // Opportunistic TLS (RFC 7435): encrypt against passive listeners, do not verify.
    rejectUnauthorized: false,
    ...(servername && !/^[\d.:]+$/.test(servername) ? { servername } : {}),
    // a TLS policy's CAs and name; its check runs after the handshake (tls-requirement.ts)
    ...extra,
  });
  return ready(t, 'secureConnect', timeoutMs, () => new Error('TLS handshake timeout'));
}
