// The seam between the gateway and the queue: what the MX hands over before it may say 250.
// Trusts the gateway's envelope; the message bytes are untrusted and stored as received.
import type { Readable } from 'node:stream';
import type { AddressClass, NextHop } from '@moat/address';
import type { Draft, SpooledMessage } from './draft.ts';

export interface EnqueueInput {
  /** Envelope sender without brackets; '' is the null sender. */
  sender: string;
  /** Envelope recipients without brackets, at least one. */
  recipients: string[];
  /** Headers to prepend above the received message (full `Name: value` lines, no CRLF). */
  prepend?: string[];
  /**
   * The message as received (CRLF line ends, dot-unstuffed): in memory, as a stream, or spooled to a draft
   * file (the gateway's way: memory does not grow with the message; the draft stays the caller's to discard).
   */
  message: Buffer | Readable | AsyncIterable<Buffer> | SpooledMessage;
  /** Free-form facts kept with the message (client address, helo, session id, sasl user, ...). */
  meta?: Record<string, string>;
  /**
   * How it leaves: `local` (the configured local transport: maildir, lmtp or smtp next hop),
   * `relay` (outbound for authenticated users: MX lookup, DKIM signing).
   */
  route?: 'local' | 'relay';
  /**
   * Where the recipients go: the address resolver's next hop (the gateway writes one queue file per
   * next hop). Given (here or per recipient), the file is envelope v2 and the runner dispatches by it;
   * `route` is then only what an older runner falls back to.
   */
  nextHop?: NextHop | undefined;
  /** Per recipient (v2): its own next hop (overrides `nextHop`), address class, extension, address given at RCPT. */
  recipientInfo?: ReadonlyMap<string, RecipientInfo> | undefined;
  /**
   * Hold the message instead of delivering it (the quarantine): which end-of-DATA check asked and why.
   * Kept in the envelope's meta as `hold_check`, `hold_reason`, `hold_score` (see HOLD_META_KEYS).
   */
  hold?: QueueHold | undefined;
}

/** Why a message is held rather than delivered: the check that decided (`dmarc`, `spamassassin`), its reason, its score. */
export interface QueueHold {
  check: string;
  reason: string;
  score?: number | undefined;
}

export interface RecipientInfo {
  nextHop?: NextHop | undefined;
  class?: AddressClass | undefined;
  /** recipient_delimiter extension (`tag` of `user+tag@d`). */
  extension?: string | undefined;
  /** The address the client gave at RCPT, when an alias or rewrite changed it. */
  original?: string | undefined;
}

export interface QueuedMessage {
  /** Queue id (unique, sortable by arrival). */
  id: string;
}

/** What the gateway calls. Resolves only once the message is durably on disk (fsync'ed, renamed, dir fsync'ed). */
export interface QueueWriter {
  enqueue(input: EnqueueInput): Promise<QueuedMessage>;
  /** A draft file in the spool's tmp/ to receive a message into as it arrives (see draft.ts). */
  draft(): Promise<Draft>;
}

export const STATES = ['incoming', 'active', 'deferred', 'hold', 'corrupt'] as const;
export type QueueState = (typeof STATES)[number];

/** One message as `mailq` shows it. */
export interface QueueEntry {
  id: string;
  state: QueueState;
  size: number;
  arrival?: number;
  sender?: string;
  recipients?: { address: string; state: string; lastError?: string }[];
  nextRetry?: number;
  lastError?: string;
  /** For `active`: the runner that holds it. */
  owner?: string;
}
