// The seam between the gateway and the queue: what the MX hands over before it may say 250.
// Trusts the gateway's envelope; the message bytes are untrusted and stored as received.
import type { Readable } from 'node:stream';
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
