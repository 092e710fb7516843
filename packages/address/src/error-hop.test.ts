import { describe, expect, it } from 'vitest';
import { errorBounceStatus, errorRefusalStatus, retryDeferStatus, retryRefusalStatus } from './error-hop.ts';
import { parseNextHop } from './next-hop.ts';

// What Debian's Postfix 3.7.11 answered for each transport_maps entry (test/postfix-error-hop.test.ts asks it again):
// the RCPT status for a recipient and for a sender, and the dsn= error(8) logged when an alias target resolved to it.
const POSTFIX: Array<[string, string, string, string]> = [
  ['error:2.0.0 all fine', '5.0.0', '5.0.0', '5.0.0'],
  ['error:2.1.5', '5.1.5', '5.1.0', '5.0.0'],
  ['error:4.2.0 try later', '5.2.0', '5.2.0', '5.0.0'],
  ['error:4.7.1', '5.7.1', '5.7.1', '5.0.0'],
  ['error:', '5.1.1', '5.1.0', '5.0.0'],
  ['error:mailbox closed', '5.1.1', '5.1.0', '5.0.0'],
  ['error:5.1.1', '5.1.1', '5.1.7', '5.1.1'],
  ['error:5.7.1 go away', '5.7.1', '5.7.1', '5.7.1'],
];

describe('error: next hops as Postfix refuses and bounces them', () => {
  for (const [entry, rcpt, sender, bounce] of POSTFIX) {
    it(entry, () => {
      const hop = parseNextHop(entry);
      if (hop.transport !== 'error') throw new Error('not an error hop');
      expect(errorRefusalStatus(hop.status, 'recipient')).toBe(rcpt);
      expect(errorRefusalStatus(hop.status, 'sender')).toBe(sender);
      expect(errorBounceStatus(hop.status)).toBe(bounce);
    });
  }
});

// retry: (retry(8)): 450 at RCPT, the status class forced to 4, then smtpd_dsn_fix; deferred at delivery, a status that
// is not 4.x.x replaced by 4.0.0 (defer_append). Asked of Debian's Postfix by test/postfix-error-hop.test.ts.
const RETRY: Array<[string, string, string, string]> = [
  ['retry:4.2.0 try later', '4.2.0', '4.2.0', '4.2.0'],
  ['retry:4.7.1', '4.7.1', '4.7.1', '4.7.1'],
  ['retry:', '4.1.1', '4.1.0', '4.0.0'],
  ['retry:mailbox busy', '4.1.1', '4.1.0', '4.0.0'],
  ['retry:5.1.1 moved', '4.1.1', '4.1.7', '4.0.0'],
  ['retry:2.0.0 fine', '4.0.0', '4.0.0', '4.0.0'],
];

describe('retry: next hops as Postfix refuses and defers them', () => {
  for (const [entry, rcpt, sender, deferred] of RETRY) {
    it(entry, () => {
      const hop = parseNextHop(entry);
      if (hop.transport !== 'retry') throw new Error('not a retry hop');
      expect(retryRefusalStatus(hop.status, 'recipient')).toBe(rcpt);
      expect(retryRefusalStatus(hop.status, 'sender')).toBe(sender);
      expect(retryDeferStatus(hop.status)).toBe(deferred);
    });
  }
});
