// The delivery-agent port: one interface, one file per implementation (maildir, smtp/lmtp, relay).
// Implementations talk to the next hop; the runner trusts their per-recipient results and nothing else.

/** sent = done; deferred = try again later (4xx, network); bounced = permanent (5xx). */
export type DeliveryStatus = 'sent' | 'deferred' | 'bounced';

export interface RecipientResult {
  recipient: string;
  status: DeliveryStatus;
  /** SMTP reply code (or the one we map a local error to). */
  code?: number;
  /** Enhanced status code, e.g. `5.1.1`. */
  enhanced?: string;
  /** The next hop's reply text, or our own explanation (untrusted when remote). */
  response: string;
  /** Who answered: `127.0.0.1[127.0.0.1]:2525`, `maildir:/srv/mail`, ... */
  relay: string;
  /**
   * A configuration problem the operator must see (Postfix logs these as warnings/panics): the runner
   * logs it at error level and counts it by this reason (`moat_queue_delivery_alerts_total`).
   */
  alert?: string;
}

export interface DeliveryRequest {
  id: string;
  sender: string;
  recipients: string[];
  /** The whole message as queued (CRLF line ends). */
  message: Buffer;
  /** recipient_delimiter extensions by recipient (`tag` of `user+tag@d`), as the resolver split them. */
  extensions?: ReadonlyMap<string, string> | undefined;
  /**
   * Never DKIM-sign this message, whatever the transport's keys: it is not ours to vouch for (see
   * `maySign`). Transports without keys ignore it.
   */
  unsigned?: boolean | undefined;
}

export interface Transport {
  readonly name: string;
  /**
   * Recipients with the same destination go out in one delivery and share a concurrency limit
   * (the next hop for smtp/lmtp, the recipient domain for relay, the mailbox root for maildir).
   */
  destination(recipient: string): string;
  /** One result per recipient, in any order. Should not throw; if it does, all recipients are deferred. */
  deliver(req: DeliveryRequest): Promise<RecipientResult[]>;
  close?(): Promise<void>;
}

export function statusFor(code: number): DeliveryStatus {
  if (code >= 200 && code < 300) return 'sent';
  if (code >= 500 && code < 600) return 'bounced';
  return 'deferred';
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
