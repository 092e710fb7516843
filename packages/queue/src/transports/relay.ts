// `relay`: outbound mail of authenticated users to the recipient domains' MX hosts, DKIM-signed when configured.
// Talks to DNS only through the configured resolver (never Node's default) and to the MX hosts it returns.
import { isIP } from 'node:net';
import { type DkimKey, signIfConfigured } from '@moat/dkim';
import { createDns, dnsFailureKind } from '@moat/dns';
import { smtpSend } from './smtp-client.ts';
import type { DomainTlsPolicy, OutboundTlsPolicy, TlsRequirement } from './tls-requirement.ts';
import { type DeliveryRequest, domainOf, type RecipientResult, type Transport } from './types.ts';

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** What the relay needs from DNS. `notFound` = NXDOMAIN (permanent); a thrown error = try later. */
export interface MxResolver {
  resolveMx(domain: string): Promise<MxRecord[] | { notFound: true }>;
  /** Addresses of an MX host name (A then AAAA). */
  resolveAddresses(host: string): Promise<string[]>;
}

/**
 * An MxResolver over @moat/dns with explicit servers (the bundled Unbound); there is no default. `timeoutMs` is
 * the budget of one question (@moat/dns's rule, its retry included); answers follow its one caching rule.
 */
export function dnsMxResolver(servers: string[], opts: { timeoutMs?: number } = {}): MxResolver {
  if (servers.length === 0) throw new Error('relay: dns servers must be configured');
  const r = createDns({ servers, timeoutMs: opts.timeoutMs ?? 15_000 });
  return {
    async resolveMx(domain) {
      try {
        const mx = await r.resolveMx(domain);
        return mx.map((m) => ({ exchange: m.exchange, priority: m.priority }));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTFOUND') return { notFound: true };
        if (dnsFailureKind(e) === 'none') return []; // no MX: the domain itself (RFC 5321 5.1)
        throw e;
      }
    },
    async resolveAddresses(host) {
      const out: string[] = [];
      for (const fam of ['resolve4', 'resolve6'] as const) {
        try {
          out.push(...(await r[fam](host)));
        } catch (e) {
          if (dnsFailureKind(e) !== 'none') throw e;
        }
      }
      return out;
    },
  };
}

export interface RelayOptions {
  heloName: string;
  /**
   * Look up this domain's MX hosts for every recipient (`smtp:example.net`: Postfix's MX lookup of a
   * named next hop). Undefined: each recipient's own domain.
   */
  domain?: string | undefined;
  resolver: MxResolver;
  /** Port on the MX hosts (25; tests point it at a loopback sink). */
  port?: number;
  dkim?: DkimKey[];
  timeoutMs?: number;
  /** Called when signing was configured but failed (the message then goes out unsigned). */
  onDkimError?: (domain: string, error: string) => void;
  /** MTA-STS and DANE (@moat/tlspolicy's outboundTls); absent: opportunistic TLS only. */
  tlsPolicy?: OutboundTlsPolicy | undefined;
}

export function relayTransport(opts: RelayOptions): Transport {
  const port = opts.port ?? 25;
  const keys = opts.dkim ?? [];
  const fixed = opts.domain ? opts.domain.toLowerCase().replace(/\.$/, '') : undefined;

  async function deliverDomain(req: DeliveryRequest, domain: string): Promise<RecipientResult[]> {
    const every = (status: 'deferred' | 'bounced', code: number, enhanced: string, text: string): RecipientResult[] =>
      req.recipients.map((recipient) => ({ recipient, status, code, enhanced, response: `${code} ${enhanced} ${text}`, relay: `relay:${domain}` }));
    let mx: MxRecord[] | { notFound: true };
    try {
      mx = await opts.resolver.resolveMx(domain);
    } catch (e) {
      return every('deferred', 451, '4.4.3', `MX lookup for ${domain} failed: ${(e as Error).message}`);
    }
    if ('notFound' in mx) return every('bounced', 550, '5.1.2', `domain ${domain} not found`);
    if (mx.length === 1 && mx[0]!.exchange.replace(/\.$/, '') === '') {
      return every('bounced', 556, '5.1.10', `domain ${domain} accepts no mail (null MX)`);
    }
    const hosts = mx.length ? [...mx].sort((a, b) => a.priority - b.priority).map((m) => m.exchange) : [domain];
    let tls: DomainTlsPolicy | undefined;
    try {
      tls = await opts.tlsPolicy?.forDomain(domain);
    } catch (e) {
      // a policy we could not learn (timeout, DNSSEC failure) is never taken for "no policy"
      return every('deferred', 451, '4.7.5', `TLS policy of ${domain} unavailable: ${(e as Error).message}`);
    }
    const signed = req.unsigned ? { message: req.message } : await signIfConfigured(req.message, keys);
    if (signed.error) opts.onDkimError?.(domain, signed.error);
    let last: RecipientResult[] = every('deferred', 451, '4.4.1', `no MX host of ${domain} reachable`);
    for (const host of hosts) {
      let addrs: string[];
      try {
        addrs = isIP(host) ? [host] : await opts.resolver.resolveAddresses(host);
      } catch (e) {
        last = every('deferred', 451, '4.4.3', `address lookup for ${host} failed: ${(e as Error).message}`);
        continue;
      }
      let need: TlsRequirement | undefined;
      try {
        need = await tls?.forHost(host, port);
      } catch (e) {
        last = every('deferred', 451, '4.7.5', (e as Error).message);
        continue;
      }
      for (const addr of addrs) {
        const sent = await smtpSend({
          host: addr,
          port,
          heloName: opts.heloName,
          starttls: 'opportunistic',
          servername: host,
          ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
          sender: req.sender,
          recipients: req.recipients,
          message: signed.message,
          reuse: true,
          tls: need,
        });
        tls?.report(host, addr, need, sent);
        const { results } = sent;
        last = results.map((r) => ({ ...r, relay: `${host}[${addr}]:${port}` }));
        // Try the next MX only when this one gave no answer at all (connection-level failure), or when the
        // policy refused its TLS (RFC 8461 5, RFC 7672 2.2: the next MX may well be fine)
        const refusedByPolicy = need?.required === true && sent.tlsFailure !== undefined;
        if (!refusedByPolicy && results.some((r) => r.code !== undefined)) return last;
      }
    }
    return last;
  }

  return {
    name: 'relay',
    destination: (rcpt) => `relay:${fixed ?? domainOf(rcpt)}`,
    async deliver(req) {
      // The runner groups by destination, so all recipients share one domain; be safe anyway.
      const byDomain = new Map<string, string[]>();
      for (const r of req.recipients) {
        const d = fixed ?? domainOf(r);
        byDomain.set(d, [...(byDomain.get(d) ?? []), r]);
      }
      const out: RecipientResult[] = [];
      for (const [domain, recipients] of byDomain) out.push(...(await deliverDomain({ ...req, recipients }, domain)));
      return out;
    },
  };
}
