// Build a transport from its config string: `maildir:/path`, `lmtp://host:port`, `smtp://host:port`, `relay`.
// Trusts the operator's config; the relay needs an explicit resolver (never Node's default DNS).
import { maildirTransport, type MaildirOptions } from './maildir.ts';
import { type MxResolver, relayTransport } from './relay.ts';
import type { DkimKey } from '@moat/dkim';
import { nextHopTransport, parseNextHop } from './smtp.ts';
import type { OutboundTlsPolicy } from './tls-requirement.ts';
import type { Transport } from './types.ts';
import type { Logger } from '@moat/observe';

export interface TransportConfig {
  heloName: string;
  /** For `relay`. */
  resolver?: MxResolver;
  relayPort?: number;
  dkim?: DkimKey[];
  /** Maildir layout below the root: a template like `%d/%n` (default) or a function. */
  maildirLayout?: MaildirOptions['layout'];
  timeoutMs?: number;
  fsync?: boolean;
  /** Where the relay logs a DKIM signing failure (the message then goes out unsigned). */
  logger?: Logger;
  /** MTA-STS and DANE for `relay` (@moat/tlspolicy). */
  tlsPolicy?: OutboundTlsPolicy;
}

export function createTransport(spec: string, cfg: TransportConfig): Transport {
  if (spec.startsWith('maildir:')) {
    const root = spec.slice('maildir:'.length);
    if (!root.startsWith('/')) throw new Error(`maildir root must be absolute: ${spec}`);
    return maildirTransport({
      root,
      hostname: cfg.heloName,
      ...(cfg.maildirLayout ? { layout: cfg.maildirLayout } : {}),
      ...(cfg.fsync === false ? { fsync: false } : {}),
    });
  }
  if (spec.startsWith('smtp://') || spec.startsWith('lmtp://')) {
    const hop = parseNextHop(spec);
    return nextHopTransport({ ...hop, heloName: cfg.heloName, ...(cfg.timeoutMs ? { timeoutMs: cfg.timeoutMs } : {}) });
  }
  if (spec === 'relay') {
    if (!cfg.resolver) throw new Error('relay transport needs a resolver (the bundled Unbound)');
    return relayTransport({
      heloName: cfg.heloName,
      resolver: cfg.resolver,
      ...(cfg.relayPort ? { port: cfg.relayPort } : {}),
      ...(cfg.dkim ? { dkim: cfg.dkim } : {}),
      ...(cfg.timeoutMs ? { timeoutMs: cfg.timeoutMs } : {}),
      tlsPolicy: cfg.tlsPolicy,
      ...(cfg.logger
        ? { onDkimError: (domain: string, error: string) => cfg.logger?.error({ domain, err: error }, 'dkim signing failed; sent unsigned') }
        : {}),
    });
  }
  throw new Error(`unknown transport: ${spec}`);
}
