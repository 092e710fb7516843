import { describe, expect, it } from 'vitest';
import { errorBounceStatus, errorRefusalStatus } from './error-hop.ts';
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
