// `error:5.x.x text` next hops (Postfix error(8)): the recipient fails with that status, nothing is sent.
// Trusts the operator's transport map for the status and text; no I/O at all.
import type { RecipientResult, Transport } from './types.ts';

export interface ErrorHopOptions {
  /** Enhanced status (RFC 3463), e.g. `5.1.1`; anything else is 5.0.0. */
  status: string;
  text: string;
}

export function errorTransport(opts: ErrorHopOptions): Transport {
  const status = /^[45]\.\d{1,3}\.\d{1,3}$/.test(opts.status) ? opts.status : '5.0.0';
  // error(8) bounces whatever the detail code says (deferring is retry(8)'s job, not a transport_maps form).
  const code = status.startsWith('4.') ? 450 : 550;
  const text = opts.text.replace(/[\r\n]+/g, ' ').slice(0, 500) || 'delivery not permitted';
  const relay = `error:${status}`;
  return {
    name: 'error',
    destination: () => relay,
    async deliver(req) {
      return req.recipients.map(
        (recipient): RecipientResult => ({
          recipient,
          status: 'bounced',
          code,
          enhanced: status,
          response: `${code} ${status} ${text}`,
          relay: 'none',
        }),
      );
    },
  };
}
