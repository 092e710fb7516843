// How many SMTP sessions are inside a mail transaction now (MAIL FROM accepted, DATA not yet answered): what the
// memory upkeep waits for before it pauses the thread. Trusts smtp-server's session state only.
import type { SMTPServer } from 'smtp-server';
import { serverConnections } from './smtp-hooks.ts';

/**
 * Sessions of these servers inside a transaction. smtp-server sets `envelope.mailFrom` once onMailFrom has called
 * back, and resets it to false at RSET, EHLO, HELO, after the DATA reply and when the connection closes: the RCPT
 * and DATA hooks run inside that span, and so does an idle client mid-transaction. The hooks themselves, MAIL
 * FROM's and the HELO check's included, are counted apart while they run (hook.ts, hooksInFlight).
 */
export function openTransactions(servers: Iterable<SMTPServer>): number {
  let n = 0;
  for (const server of servers) {
    for (const c of serverConnections(server)) {
      if (c.session?.envelope?.mailFrom) n++;
    }
  }
  return n;
}
