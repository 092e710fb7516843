// Can this process reach what a command names? One probe for the resolver and one for Redis, each
// answering undefined (reachable) or why not, in words an operator can act on.
// Trusts nothing it is told: a probe only sends a DNS query or a PING and closes its connection.
import { Resolver } from 'node:dns/promises';
import { parseResolver } from '@moat/dnslist';
import { connectRedis, type RedisTarget } from '@moat/redis';

/**
 * Sends one A query for `name`. Any DNS answer (a record, NXDOMAIN, NODATA, SERVFAIL) means the resolver
 * is there; no answer, a refused connection, or a REFUSED reply (its access control) means it cannot be used.
 */
export async function probeResolver(resolver: string, name: string, timeoutMs: number): Promise<string | undefined> {
  let server: string;
  try {
    server = parseResolver(resolver).server;
  } catch (e) {
    return (e as Error).message;
  }
  const r = new Resolver({ timeout: timeoutMs, tries: 1 });
  r.setServers([server]);
  try {
    await r.resolve4(name);
    return undefined;
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'ESERVFAIL') return undefined;
    if (code === 'ECONNREFUSED') return 'connection refused: nothing listens there';
    if (code === 'ETIMEOUT') return `no answer within ${timeoutMs} ms`;
    if (code === 'EREFUSED') return 'it refuses queries from this host (its access control)';
    return code || (e as Error).message;
  } finally {
    r.cancel();
  }
}

/** Connects, waits for the client to be ready and PINGs; always disconnects. */
export async function probeRedis(target: RedisTarget, timeoutMs: number): Promise<string | undefined> {
  const client = connectRedis(target, { connectionName: 'moat-cli-probe', connectTimeoutMs: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = await new Promise<string | undefined>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
      client.once('ready', () => resolve(undefined));
      client.once('error', (e: Error) => resolve(e.message || String(e)));
    });
    if (ready) return ready;
    await client.ping();
    return undefined;
  } catch (e) {
    return (e as Error).message || String(e);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
