// `error:[status] text` next hops (Postfix error(8)): the recipient bounces with that text, nothing is sent.
// Trusts the operator's transport map for the status and text; no I/O at all.
import { errorBounceStatus, UNDELIVERABLE } from '@moat/address';
import type { RecipientResult, Transport } from './types.ts';

export interface ErrorHopOptions {
  /** Enhanced status (RFC 3463) as written, e.g. `5.1.1`; absent, or of class 2 or 4, it bounces as 5.0.0 (error(8)). */
  status?: string | undefined;
  text: string;
}

export function errorTransport(opts: ErrorHopOptions): Transport {
  // error(8) bounces whatever the status says: bounce_append keeps only a 5.x.x status (deferring is retry(8)'s job).
  const status = errorBounceStatus(opts.status);
  const text = opts.text.replace(/[\r\n]+/g, ' ').slice(0, 500) || UNDELIVERABLE;
  const relay = `error:${status}`;
  return {
    name: 'error',
    destination: () => relay,
    async deliver(req) {
      return req.recipients.map(
        (recipient): RecipientResult => ({
          recipient,
          status: 'bounced',
          code: 550,
          enhanced: status,
          response: `550 ${status} ${text}`,
          relay: 'none',
        }),
      );
    },
  };
}
