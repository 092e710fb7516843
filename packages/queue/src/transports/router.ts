// Transports by next hop: each recipient's NextHop (the address resolver's answer) picks the delivery agent.
// Trusts the hops written into the queue file by the gateway; builds one transport per distinct hop.
import type { NextHop } from '@moat/address';
import type { Logger } from '@moat/observe';
import type { DkimKey } from '@moat/dkim';
import { discardTransport } from './discard.ts';
import { errorTransport } from './error.ts';
import { retryTransport } from './retry.ts';
import { maildirTransport, type MaildirOptions } from './maildir.ts';
import { type MxResolver, relayTransport } from './relay.ts';
import { nextHopTransport } from './smtp.ts';
import type { NextHopTlsPolicy, OutboundTlsPolicy, TlsRequirement } from './tls-requirement.ts';
import type { RecipientResult, Transport } from './types.ts';

export interface RouterOptions {
  heloName: string;
  /** For `smtp:` hops with MX lookup (the bundled resolver). Without it those recipients stay queued, with an alert. */
  resolver?: MxResolver | undefined;
  /** Port on MX hosts (25; tests point it at a loopback sink). */
  mxPort?: number | undefined;
  /** Keys for outbound mail (recipients of class remote, or of unknown class, through smtp hops). */
  dkim?: DkimKey[] | undefined;
  /** Our mailbox domains: a maildir never writes another domain's recipient (see maildirTransport). */
  isLocal?: ((domain: string) => boolean) | undefined;
  recipientDelimiter?: string | undefined;
  maildirLayout?: MaildirOptions['layout'];
  fsync?: boolean | undefined;
  timeoutMs?: number | undefined;
  logger?: Logger | undefined;
  /** MTA-STS and DANE for MX deliveries (@moat/tlspolicy). */
  tlsPolicy?: OutboundTlsPolicy | undefined;
  /** TLS levels of next hops without MX lookup: relayhost, `smtp:[host]:port`, LMTP (@moat/tlspolicy's nextHopTls). */
  hopTls?: NextHopTlsPolicy | undefined;
}

export interface NextHopRouter {
  /** The transport for a hop; `sign`: DKIM-sign (outbound mail). Same hop, same transport instance. */
  transportFor(hop: NextHop, sign: boolean): Transport;
}

/** A transport that cannot deliver (a hop this process is not configured for): keeps mail queued, alerts. */
function unavailable(name: string, why: string, alert: string): Transport {
  return {
    name,
    destination: () => `${name}:unavailable`,
    async deliver(req) {
      return req.recipients.map(
        (recipient): RecipientResult => ({ recipient, status: 'deferred', code: 451, enhanced: '4.3.5', response: `451 4.3.5 ${why}`, relay: 'none', alert }),
      );
    },
  };
}

export function createRouter(opts: RouterOptions): NextHopRouter {
  const cache = new Map<string, Transport>();
  const timeout = opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {};
  const onDkimError = (domain: string, error: string) => opts.logger?.error({ domain, err: error }, 'dkim signing failed; sent unsigned');

  /** The hop's TLS level as nextHopTransport options; without hopTls: opportunistic for smtp, none for lmtp (as before). */
  function hopTlsOf(h: Parameters<NextHopTlsPolicy>[0]): { starttls?: boolean; tls?: TlsRequirement; refuse?: string } {
    const t = opts.hopTls?.(h);
    if (!t) return {};
    return { starttls: t.starttls === 'opportunistic', ...(t.tls ? { tls: t.tls } : {}), ...(t.refuse ? { refuse: t.refuse } : {}) };
  }

  function build(hop: NextHop, sign: boolean): Transport {
    // the array itself, even empty: a reload fills it in place, and a transport cached before must see the keys
    const dkim = sign && opts.dkim ? { dkim: opts.dkim, onDkimError } : {};
    switch (hop.transport) {
      case 'smtp':
        if (!hop.mx && hop.host) return nextHopTransport({ host: hop.host, port: hop.port, heloName: opts.heloName, ...timeout, ...dkim, ...hopTlsOf({ kind: 'smtp', host: hop.host, port: hop.port, raw: hop.raw, dest: hop.dest }) });
        if (!opts.resolver) return unavailable('relay', 'no resolver configured for MX lookups', 'no-mx-resolver');
        return relayTransport({
          heloName: opts.heloName,
          resolver: opts.resolver,
          domain: hop.host,
          port: opts.mxPort ?? hop.port,
          ...timeout,
          // a TLS report is delivered despite TLS failures and not counted in the next one (RFC 8460 3)
          tlsPolicy: hop.tls === 'may' ? undefined : opts.tlsPolicy,
          ...(dkim.dkim ? { dkim: dkim.dkim, onDkimError } : {}),
        });
      case 'lmtp':
        return 'path' in hop.socket
          ? nextHopTransport({ host: 'localhost', port: 0, path: hop.socket.path, lmtp: true, heloName: opts.heloName, ...timeout })
          : nextHopTransport({ host: hop.socket.host, port: hop.socket.port, lmtp: true, heloName: opts.heloName, ...timeout, ...hopTlsOf({ kind: 'lmtp', host: hop.socket.host, port: hop.socket.port, raw: hop.raw, dest: hop.dest }) });
      case 'maildir':
        if (!hop.path.startsWith('/')) return unavailable('maildir', `maildir root must be absolute: ${hop.path}`, 'bad-next-hop');
        return maildirTransport({
          root: hop.path,
          hostname: opts.heloName,
          isLocal: opts.isLocal,
          recipientDelimiter: opts.recipientDelimiter,
          ...(opts.maildirLayout ? { layout: opts.maildirLayout } : {}),
          ...(opts.fsync === false ? { fsync: false } : {}),
        });
      case 'error':
        // as error(8): a status that is not 5.x.x is ignored, with a warning (logged once per hop: transports are cached)
        if (hop.status !== undefined && !hop.status.startsWith('5')) opts.logger?.warn({ event: 'error-hop-status', hop: hop.raw, status: hop.status }, 'error transport: ignoring a status that is not 5.x.x; bounced as 5.0.0');
        return errorTransport({ status: hop.status, text: hop.text });
      case 'retry':
        // as retry(8): deferred (a status that is not 4.x.x is ignored, with a warning), until the message's lifetime ends
        if (hop.status !== undefined && !hop.status.startsWith('4')) opts.logger?.warn({ event: 'retry-hop-status', hop: hop.raw, status: hop.status }, 'retry transport: ignoring a status that is not 4.x.x; deferred as 4.0.0');
        return retryTransport({ status: hop.status, text: hop.text });
      case 'discard':
        return discardTransport(hop.text);
      default:
        // A queue file from a newer moat, or damaged: never guess where its mail goes.
        return unavailable('unknown', `unknown next hop ${JSON.stringify(hop).slice(0, 200)}`, 'bad-next-hop');
    }
  }

  return {
    transportFor(hop, sign) {
      // the hop's fields, not its raw text: `smtp:[a]:25` and `smtp://a:25` are one destination. `dest` stays in:
      // it is the TLS policy key, so `lmtp:[h]:2424` and `lmtp:h:2424` (or `[h]` and `[h]:25`) are two transports
      const { raw: _raw, ...fields } = hop as NextHop & { raw?: string };
      const key = `${JSON.stringify(fields)}|${sign && hop.transport === 'smtp' ? 'sign' : ''}`;
      let t = cache.get(key);
      if (!t) {
        t = build(hop, sign && hop.transport === 'smtp');
        cache.set(key, t);
      }
      return t;
    },
  };
}
