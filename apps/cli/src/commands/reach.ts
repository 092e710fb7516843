// Can this process reach what a command names? One probe for the resolver and one for Redis, each
// answering undefined (reachable) or why not, in words an operator can act on.
// Trusts nothing it is told: a probe only sends a DNS query or a PING and closes its connection.
import { createDns, type Dns, dnsFailureKind } from '@moat/dns';
import { connectRedis, type RedisTarget } from '@moat/redis';

/**
 * A name the stack's Unbound answers from local data (compose/unbound: `health.moat.`), instantly and
 * without the network; other resolvers answer NXDOMAIN or refuse it, which the next name settles.
 */
export const HEALTH_NAME = 'health.moat.';

/**
 * Sends one A query per name, in order, until the resolver gives any DNS answer (a record, NXDOMAIN,
 * NODATA, SERVFAIL: it is there). A refused connection stops at once; a REFUSED reply or no answer tries
 * the next name (an authoritative server refuses names outside its zones). Undefined = reachable.
 */
export async function probeResolver(resolver: string, names: readonly string[], timeoutMs: number): Promise<string | undefined> {
  let r: Dns;
  try {
    r = createDns({ servers: [resolver], timeoutMs, cache: false });
  } catch (e) {
    return (e as Error).message;
  }
  let why: string | undefined;
  for (const name of names) {
    try {
      await r.resolve4(name);
      return undefined;
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      const kind = dnsFailureKind(e);
      if (kind === 'none' || kind === 'servfail') return undefined;
      if (code === 'ECONNREFUSED') return 'connection refused: nothing listens there';
      why =
        kind === 'timeout'
          ? `no answer within ${timeoutMs} ms`
          : code === 'EREFUSED'
            ? 'it refuses queries from this host (its access control)'
            : code || (e as Error).message;
    }
  }
  return why;
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
