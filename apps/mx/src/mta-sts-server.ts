// Serves this MX's MTA-STS policy file (RFC 8461 3.3) over HTTPS with the MX certificate, for any mta-sts.DOMAIN.
// Talks to anyone on the listen address; answers one path with one fixed text, everything else 404.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { formatStsPolicy, type StsPolicy } from '@moat/tlspolicy';

export interface MtaStsServer {
  address(): AddressInfo;
  /** A renewed certificate for new connections. */
  setCertificate(pair: { key: Buffer | string; cert: Buffer | string }): void;
  close(): Promise<void>;
}

export async function startMtaStsServer(o: { host: string; port: number; policy: StsPolicy; key: Buffer | string; cert: Buffer | string }): Promise<MtaStsServer> {
  const body = formatStsPolicy(o.policy);
  const server: Server = createServer({ key: o.key, cert: o.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    const host = String(req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (req.method !== 'GET' || req.url !== '/.well-known/mta-sts.txt' || !host.startsWith('mta-sts.')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'max-age=300' }).end(body);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  server.on('error', () => undefined);
  return {
    address: () => server.address() as AddressInfo,
    setCertificate: (pair) => server.setSecureContext({ key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
