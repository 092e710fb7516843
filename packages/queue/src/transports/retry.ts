// `retry:[status] text` next hops (Postfix's retry(8), error(8) run as `retry`): the recipient is deferred, nothing is sent.
// Trusts the operator's transport map for the status and text; no I/O at all.
import { retryDeferStatus, UNDELIVERABLE } from '@moat/address';
import type { RecipientResult, Transport } from './types.ts';

export interface RetryHopOptions {
  /** Enhanced status (RFC 3463) as written, e.g. `4.3.0`; absent, or of class 2 or 5, it defers as 4.0.0 (defer_append). */
  status?: string | undefined;
  text: string;
}

export function retryTransport(opts: RetryHopOptions): Transport {
  // retry(8) defers whatever the status says; the runner's backoff and queue.max_lifetime decide when it bounces,
  // as qmgr's do for a deferred message (maximal_queue_lifetime)
  const status = retryDeferStatus(opts.status);
  const text = opts.text.replace(/[\r\n]+/g, ' ').slice(0, 500) || UNDELIVERABLE;
  const relay = `retry:${status}`;
  return {
    name: 'retry',
    destination: () => relay,
    async deliver(req) {
      return req.recipients.map(
        (recipient): RecipientResult => ({
          recipient,
          status: 'deferred',
          code: 450,
          enhanced: status,
          response: `450 ${status} ${text}`,
          relay: 'none',
        }),
      );
    },
  };
}
