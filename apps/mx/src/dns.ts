// The gateway's FCrDNS over @moat/dns's client (the configured servers only, its one caching rule), and the
// resolver shape mailauth takes. Trusts the configured resolver; answers are untrusted names.
import type { Dns } from '@moat/dns';
import { unmapIPv4 } from '@moat/policy';
import { withTimeout } from '@moat/redis';

/** What the gateway asks (FCrDNS, and mailauth's SPF/DKIM/DMARC through `resolve`): @moat/dns's client. */
export type MxResolver = Pick<Dns, 'reverse' | 'resolve4' | 'resolve6' | 'resolve'>;

const hostname = /^(?=.{1,253}\.?$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

export interface ClientIdentity {
  /** First PTR name that looks like a hostname (unverified). */
  reverseName?: string | undefined;
  /** A PTR name whose A/AAAA records include the client address (Postfix's "verified" client name). */
  clientName?: string | undefined;
}

const norm = (a: string) => unmapIPv4(a.toLowerCase());

/** Forward-confirmed reverse DNS: PTR, then A/AAAA of each name (at most 5), within `timeoutMs` overall. */
export async function verifyClient(resolver: MxResolver, ip: string, timeoutMs: number): Promise<ClientIdentity> {
  const addr = norm(ip);
  const work = async (): Promise<ClientIdentity> => {
    let names: string[];
    try {
      names = (await resolver.reverse(addr)).filter((n) => hostname.test(n)).slice(0, 5);
    } catch {
      return {};
    }
    const reverseName = names[0]?.replace(/\.$/, '').toLowerCase();
    const v6 = addr.includes(':');
    for (const name of names) {
      try {
        const addrs = await (v6 ? resolver.resolve6(name) : resolver.resolve4(name));
        if (addrs.some((a) => norm(a) === addr)) return { reverseName, clientName: name.replace(/\.$/, '').toLowerCase() };
      } catch {
        // NXDOMAIN / timeout: this name does not verify
      }
    }
    return { reverseName };
  };
  try {
    return await withTimeout(work(), timeoutMs, () => new Error('dns timeout'));
  } catch {
    return {};
  }
}
