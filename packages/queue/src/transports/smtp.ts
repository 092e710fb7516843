// `smtp:[host]:port` and `lmtp:` next hops (unix socket or host:port): a mailbox server, a relayhost,
// or the primary MX for a backup MX. Talks to that one configured host; its replies are untrusted text.
import { type DkimKey, signIfConfigured } from '@moat/dkim';
import type { NextHop } from '@moat/address';
import { nextHopOf } from './next-hop.ts';
import { smtpSend } from './smtp-client.ts';
import type { TlsRequirement } from './tls-requirement.ts';
import type { DeliveryRequest, RecipientResult, Transport } from './types.ts';

export interface NextHopOptions {
  host: string;
  port: number;
  /** LMTP over a unix-domain socket (`lmtp:unix:/path`); host and port are then unused. */
  path?: string | undefined;
  /** Sign with these keys (outbound mail through a relayhost); none for mailbox servers. */
  dkim?: DkimKey[] | undefined;
  onDkimError?: ((domain: string, error: string) => void) | undefined;
  lmtp?: boolean;
  /** Our EHLO/LHLO name. */
  heloName: string;
  /** Opportunistic STARTTLS toward the next hop (default: on for smtp, off for lmtp). */
  starttls?: boolean;
  /** A mandatory TLS level for this hop (smtp_tls_policy_maps, lmtp_tls_security_level): never sent in clear. */
  tls?: TlsRequirement | undefined;
  /** The hop's TLS level cannot be met here: every recipient is deferred with this text, nothing is sent. */
  refuse?: string | undefined;
  timeoutMs?: number;
}

export function nextHopTransport(opts: NextHopOptions): Transport {
  const name = opts.lmtp ? 'lmtp' : 'smtp';
  const key = opts.path ? `${name}:unix:${opts.path}` : `${name}://${opts.host}:${opts.port}`;
  const keys = opts.dkim ?? [];
  return {
    name,
    destination: () => key,
    async deliver(req: DeliveryRequest): Promise<RecipientResult[]> {
      if (opts.refuse) {
        const response = `451 4.7.5 ${opts.refuse}`.slice(0, 500);
        return req.recipients.map((recipient) => ({ recipient, status: 'deferred', code: 451, enhanced: '4.7.5', response, relay: key }));
      }
      let message = req.message;
      if (keys.length > 0 && !req.unsigned) {
        const signed = await signIfConfigured(message, keys);
        if (signed.error) opts.onDkimError?.(key, signed.error);
        message = signed.message;
      }
      const { results } = await smtpSend({
        host: opts.host,
        port: opts.port,
        ...(opts.path ? { path: opts.path } : {}),
        lmtp: opts.lmtp ?? false,
        heloName: opts.heloName,
        starttls: (opts.starttls ?? !opts.lmtp) ? 'opportunistic' : 'never',
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
        sender: req.sender,
        recipients: req.recipients,
        message,
        reuse: true,
        ...(opts.tls ? { tls: opts.tls } : {}),
      });
      return results;
    },
  };
}

/** Parse `smtp://host:port` / `lmtp://host:port` (IPv6 in brackets), with the one transport-spec reader. */
export function parseNextHop(spec: string): { lmtp: boolean; host: string; port: number } {
  const hop = /^(smtp|lmtp):\/\//.test(spec) ? safeNextHop(spec) : undefined;
  if (hop?.transport === 'smtp' && hop.host !== undefined) return { lmtp: false, host: hop.host, port: hop.port };
  if (hop?.transport === 'lmtp' && 'host' in hop.socket) return { lmtp: true, host: hop.socket.host, port: hop.socket.port };
  throw new Error(`bad next hop: ${spec}`);
}

function safeNextHop(spec: string): NextHop | undefined {
  try {
    return nextHopOf(spec);
  } catch {
    return undefined;
  }
}
