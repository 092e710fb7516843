// `smtp://host:port` and `lmtp://host:port` next hops: a mailbox server, or the primary MX for a backup MX.
// Talks to that one configured host; its replies are untrusted text, only the codes decide.
import { smtpSend } from './smtp-client.ts';
import type { DeliveryRequest, RecipientResult, Transport } from './types.ts';

export interface NextHopOptions {
  host: string;
  port: number;
  lmtp?: boolean;
  /** Our EHLO/LHLO name. */
  heloName: string;
  /** Opportunistic STARTTLS toward the next hop (default: on for smtp, off for lmtp). */
  starttls?: boolean;
  timeoutMs?: number;
}

export function nextHopTransport(opts: NextHopOptions): Transport {
  const name = opts.lmtp ? 'lmtp' : 'smtp';
  const key = `${name}://${opts.host}:${opts.port}`;
  return {
    name,
    destination: () => key,
    async deliver(req: DeliveryRequest): Promise<RecipientResult[]> {
      const { results } = await smtpSend({
        host: opts.host,
        port: opts.port,
        lmtp: opts.lmtp ?? false,
        heloName: opts.heloName,
        starttls: (opts.starttls ?? !opts.lmtp) ? 'opportunistic' : 'never',
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
        sender: req.sender,
        recipients: req.recipients,
        message: req.message,
        reuse: true,
      });
      return results;
    },
  };
}

/** Parse `smtp://host:port` / `lmtp://host:port` (IPv6 in brackets). */
export function parseNextHop(spec: string): { lmtp: boolean; host: string; port: number } {
  const m = /^(smtp|lmtp):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d{1,5}))?\/?$/.exec(spec);
  if (!m) throw new Error(`bad next hop: ${spec}`);
  const lmtp = m[1] === 'lmtp';
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : lmtp ? 24 : 25;
  return { lmtp, host, port };
}
