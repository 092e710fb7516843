// Fetches a domain's MTA-STS policy file over HTTPS (RFC 8461 3.3): no redirects, 200 only, at most 64 KB.
// Talks to mta-sts.DOMAIN at the address the validating resolver gives; the body is untrusted text.
import { request } from 'node:https';
import { parseStsPolicy, type StsPolicy } from './mta-sts.ts';
import type { SecureResolver } from './secure-resolver.ts';

/** `timeout`: no answer in time (the message waits); `absent`: the policy is unusable and treated as absent. */
export class StsFetchError extends Error {
  readonly kind: 'timeout' | 'absent';
  constructor(kind: 'timeout' | 'absent', message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface StsFetchOptions {
  resolver: SecureResolver;
  /** CAs for the policy host's certificate (default: the system's; tests pass a test CA). */
  ca: string[];
  /** 443; tests point it at a loopback server. */
  port?: number;
  timeoutMs?: number;
  /** RFC 8461 3.3 suggests 64 KB. */
  maxBytes?: number;
}

export async function fetchStsPolicy(domain: string, o: StsFetchOptions): Promise<StsPolicy> {
  const host = `mta-sts.${domain}`;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const maxBytes = o.maxBytes ?? 64 * 1024;
  let addrs: string[];
  try {
    addrs = await o.resolver.addresses(host);
  } catch (e) {
    const kind = (e as { kind?: string }).kind === 'timeout' ? 'timeout' : 'absent';
    throw new StsFetchError(kind, `${host}: ${(e as Error).message}`);
  }
  if (addrs.length === 0) throw new StsFetchError('absent', `${host} has no address`);
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: addrs[0],
        servername: host,
        port: o.port ?? 443,
        path: '/.well-known/mta-sts.txt',
        method: 'GET',
        headers: { host, 'user-agent': 'moat-mta-sts' },
        ca: o.ca,
        rejectUnauthorized: true,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new StsFetchError('absent', `${host} answered HTTP ${res.statusCode} (no redirects are followed)`));
          return;
        }
        const type = String(res.headers['content-type'] ?? '');
        if (!/^text\/plain\b/i.test(type)) {
          res.resume();
          reject(new StsFetchError('absent', `${host} sent content-type ${JSON.stringify(type.slice(0, 60))}, not text/plain`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy();
            reject(new StsFetchError('absent', `${host}: policy larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', (e) => reject(new StsFetchError('absent', `${host}: ${e.message}`)));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      reject(new StsFetchError('timeout', `${host}: no answer in ${timeoutMs} ms`));
    });
    req.on('error', (e) => reject(e instanceof StsFetchError ? e : new StsFetchError('absent', `${host}: ${e.message}`)));
    req.end();
  });
  try {
    return parseStsPolicy(body);
  } catch (e) {
    throw new StsFetchError('absent', `${host}: bad policy: ${(e as Error).message}`);
  }
}
