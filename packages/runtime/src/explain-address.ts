// What `moat explain` and the console's "Why?" show beside the restriction trace: how one recipient resolves.
// Trusts the resolver compileConfig built (the one mx delivers with); the address is client input, shown as data.
import { type AddressClass, type AddressResolver, errorBounceStatus, errorRefusalStatus, type NextHop, retryDeferStatus, retryRefusalStatus, type Resolution } from '@moat/address';

/** One final recipient as shown: where the message for it goes. */
export interface ExplainedRecipient {
  address: string;
  class: AddressClass;
  /** The recipient_delimiter extension (`tag` of `user+tag@d`), and the user it is delivered for. */
  extension?: string | undefined;
  user?: string | undefined;
  transport: NextHop['transport'];
  /** The next hop in words: `smtp to [10.0.0.2]:25`, `smtp by MX lookup of example.net`, `maildir /var/mail/moat`... */
  nextHop: string;
  /** The transport as written (transport_maps entry, relay_transport, queue.transport...). */
  raw: string;
}

/** A recipient's resolution as JSON: its class, each rewrite in order, and its final recipients or why it is refused. */
export interface AddressExplanation {
  address: string;
  class: AddressClass;
  accepted: boolean;
  /** What the resolver did, in order: the class, virtual_alias_maps and alias_maps expansions, transport_maps entries, recipient_delimiter splits. */
  steps: string[];
  recipients: ExplainedRecipient[];
  /** Why the address is refused (unknown-user, empty-expansion, loop, too-many) or deferred (lookup-failure). */
  refused?: { reason: Extract<Resolution, { ok: false }>['reason']; status: string; text: string } | undefined;
}

/** The next hop in words, as an admin reads it. */
export function describeNextHop(hop: NextHop, domain: string): string {
  switch (hop.transport) {
    case 'smtp':
      return hop.mx ? `smtp by MX lookup of ${hop.host ?? domain}${hop.port === 25 ? '' : ` (port ${hop.port})`}` : `smtp to [${hop.host}]:${hop.port}`;
    case 'lmtp':
      return 'path' in hop.socket ? `lmtp to unix:${hop.socket.path}` : `lmtp to ${hop.socket.host}:${hop.socket.port}`;
    case 'maildir':
      return `maildir ${hop.path} (mailbox of ${domain})`;
    case 'error':
      return `error ${errorBounceStatus(hop.status)} ${hop.text} (bounced; refused at RCPT with ${errorRefusalStatus(hop.status, 'recipient')})`;
    case 'retry':
      return `retry ${retryDeferStatus(hop.status)} ${hop.text} (deferred until the message's lifetime ends; refused at RCPT with 450 ${retryRefusalStatus(hop.status, 'recipient')})`;
    case 'discard':
      return `discard${hop.text ? ` (${hop.text})` : ''} (accepted and dropped)`;
  }
}

/**
 * Resolves a recipient as delivery will (AddressResolver.resolve: the class, aliases, recipient_delimiter,
 * transport_maps) and shapes it for display. Never throws; the resolver reports table failures as a refusal.
 */
export function explainAddress(resolver: AddressResolver, address: string): AddressExplanation {
  const r = resolver.resolve(address);
  const steps = [...r.trace];
  if (!r.ok) return { address, class: r.class, accepted: false, steps, recipients: [], refused: { reason: r.reason, status: r.status, text: r.text } };
  const recipients = r.recipients.map((f): ExplainedRecipient => {
    const at = f.address.lastIndexOf('@');
    const local = at < 0 ? f.address : f.address.slice(0, at);
    const domain = at < 0 ? '' : f.address.slice(at + 1);
    // The resolver keeps the extension on the address (Postfix does): the user is the local part before it.
    const user = f.extension === undefined ? undefined : `${local.slice(0, local.length - f.extension.length - 1)}${at < 0 ? '' : `@${domain}`}`;
    if (user !== undefined) steps.push(`recipient_delimiter: ${f.address} is ${user}, extension "${f.extension}"`);
    return { address: f.address, class: f.class, extension: f.extension, user, transport: f.nextHop.transport, nextHop: describeNextHop(f.nextHop, domain), raw: f.nextHop.raw };
  });
  return { address, class: r.class, accepted: true, steps, recipients };
}
