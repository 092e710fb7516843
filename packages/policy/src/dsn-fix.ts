// smtpd_dsn_fix(3): an address status (X.1.Y) made to fit what is refused: a sender, a recipient, or neither.
// Pure; trusts its input to be an RFC 3463 status (the resolver's, or an access map's parsed one).

// SND_DSN (4.1.7) for the recipient-only micro codes 1, 4, 6.
const SENDER: Readonly<Record<string, string>> = { '1': '1.7', '2': '1.8', '3': '1.7', '4': '1.7', '5': '1.0', '6': '1.7', '7': '1.7', '8': '1.8' };
const RECIPIENT: Readonly<Record<string, string>> = { '1': '1.1', '2': '1.2', '3': '1.3', '4': '1.4', '5': '1.5', '6': '1.6', '7': '1.3', '8': '1.2' };

/**
 * As smtpd: a recipient's address status used to refuse a sender becomes a sender one (X.1.1 -> X.1.7,
 * X.1.2 -> X.1.8, X.1.5 -> X.1.0), and the reverse for recipients; unknown micro codes become X.1.0; for
 * anything else (a client, a HELO) an address status becomes X.0.0. Non-address statuses are kept.
 * (For reject_unlisted_sender smtpd starts from 5.1.0, not 5.1.1.)
 */
export function smtpdDsnFix(status: string, refusing: 'sender' | 'recipient' | 'other'): string {
  const m = /^([245])\.1\.(\d+)$/.exec(status);
  if (!m) return status;
  if (refusing === 'other') return `${m[1]}.0.0`;
  const micro = m[2] as string;
  const fixed = refusing === 'sender' ? (SENDER[micro] ?? '1.0') : (RECIPIENT[micro] ?? '1.0');
  return `${m[1]}.${fixed}`;
}
