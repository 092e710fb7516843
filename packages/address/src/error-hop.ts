// The status and text an `error:` / `retry:` next hop is refused, bounced or deferred with, as Postfix's smtpd and error(8) choose them.
// Pure; trusts the hop to come from parseNextHop (status absent, or an RFC 3463 code of class 2, 4 or 5).
import { smtpdDsnFix } from '@moat/policy';

/** trivial-rewrite's text for `error:` with no next hop (transport.c); moat also uses it when only a status is written. */
export const UNDELIVERABLE = 'Address is undeliverable';

/**
 * smtpd refusing an address that resolves to `error:` (smtpd_check.c): the written status, else 5.1.1 (5.1.0 for a
 * sender); the reply is always 550 and smtpd_check_reject forces the status class to the reply's, so
 * `error:4.2.0` answers 550 5.2.0 and `error:2.0.0` 550 5.0.0; then smtpd_dsn_fix fits X.1.Y to what is refused.
 * Checked against Debian's Postfix 3.7 (packages/address/test/postfix-error-hop.test.ts).
 */
export function errorRefusalStatus(status: string | undefined, refusing: 'recipient' | 'sender'): string {
  const given = status ?? (refusing === 'sender' ? '5.1.0' : '5.1.1');
  return smtpdDsnFix(`5${given.slice(1)}`, refusing);
}

/**
 * error(8) bouncing at delivery: bounce_append keeps a 5.x.x status and replaces any other with 5.0.0 (Postfix logs
 * `bounce_append: ignoring dsn code "4.2.0"`), so `error:4.x.x` and `error:2.x.x` bounce as 5.0.0 and never defer.
 */
export function errorBounceStatus(status: string | undefined): string {
  return status !== undefined && /^5\.\d{1,3}\.\d{1,3}$/.test(status) ? status : '5.0.0';
}

/**
 * smtpd refusing an address that resolves to `retry:` (smtpd_check.c, Postfix 3.0+): the written status, else 4.1.1
 * (4.1.0 for a sender); the reply is always 450, so the status takes class 4 (`retry:5.1.1` answers 450 4.1.1); then
 * smtpd_dsn_fix. Checked against Debian's Postfix 3.7 (packages/address/test/postfix-error-hop.test.ts).
 */
export function retryRefusalStatus(status: string | undefined, refusing: 'recipient' | 'sender'): string {
  const given = status ?? (refusing === 'sender' ? '4.1.0' : '4.1.1');
  return smtpdDsnFix(`4${given.slice(1)}`, refusing);
}

/**
 * retry(8) at delivery: defer_append keeps a 4.x.x status and replaces any other with 4.0.0 (Postfix logs
 * `defer_append: ignoring dsn code "5.1.1"`): the recipient is deferred, never bounced, until the message's lifetime ends.
 */
export function retryDeferStatus(status: string | undefined): string {
  return status !== undefined && /^4\.\d{1,3}\.\d{1,3}$/.test(status) ? status : '4.0.0';
}
