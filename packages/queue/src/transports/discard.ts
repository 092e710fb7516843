// `discard:[text]` next hops (Postfix discard(8)): the recipient counts as delivered and nothing is kept.
// Trusts the operator's transport map; no I/O (the runner logs the one line per recipient).
import type { RecipientResult, Transport } from './types.ts';

export function discardTransport(text: string): Transport {
  const why = text.replace(/[\r\n]+/g, ' ').slice(0, 500);
  return {
    name: 'discard',
    destination: () => 'discard:',
    async deliver(req) {
      return req.recipients.map(
        (recipient): RecipientResult => ({
          recipient,
          status: 'sent',
          code: 250,
          enhanced: '2.0.0',
          response: `250 2.0.0 discarded${why ? `: ${why}` : ''}`,
          relay: 'none',
        }),
      );
    },
  };
}
