// Postfix's smtpd_dsn_fix, and the class digit smtpd_check_reject forces: the enhanced status an access map's
// answer is sent with. Trusts its input to be a parsed `d.d.d` status (access-action.ts checks the form).

/** Address statuses (X.1.y) by y: what they become for a sender and for a recipient (smtpd_dsn_fix.c's table). */
const ADDRESS_DSN: Readonly<Record<string, readonly [sender: string, recipient: string]>> = {
  '1': ['1.7', '1.1'],
  '2': ['1.8', '1.2'],
  '3': ['1.7', '1.3'],
  '4': ['1.7', '1.4'],
  '5': ['1.0', '1.5'],
  '6': ['1.7', '1.6'],
  '7': ['1.7', '1.3'],
  '8': ['1.8', '1.2'],
};

/**
 * The status Postfix sends for an access map's `REJECT 5.1.7 text` (or DEFER, or a numeric code): an address
 * status is fitted to what is rejected (`5.1.7` becomes `5.1.3` for a recipient, `5.1.1` becomes `5.1.7` for a
 * sender, `X.0.0` for a client or HELO), then its class is the reply code's (`REJECT 4.1.1` at 554 is `5.1.1`).
 * `replyClass` is Postfix's `Sender address` / `Recipient address` / ... with or without ` rejected`.
 */
export function fixDsn(status: string, replyClass: string, codeClass: '4' | '5'): string {
  let fixed = status;
  if (/^\d\.1\./.test(status)) {
    const pair = ADDRESS_DSN[status.slice(4)] ?? ['1.0', '1.0'];
    if (replyClass.startsWith('Sender address')) fixed = `x.${pair[0]}`;
    else if (replyClass.startsWith('Recipient address')) fixed = `x.${pair[1]}`;
    else fixed = 'x.0.0';
  }
  return `${codeClass}${fixed.slice(1)}`;
}
