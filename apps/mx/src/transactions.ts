// How many SMTP sessions are inside a mail transaction now (MAIL FROM accepted, DATA not yet answered): what the
// memory upkeep waits for before it pauses the thread. Trusts smtp-server's session state only.
import type { SMTPServer } from 'smtp-server';

interface LiveSession {
  session?: { envelope?: { mailFrom?: unknown } };
}

/**
 * Sessions of these servers inside a transaction. smtp-server sets `envelope.mailFrom` at MAIL FROM and resets it
 * (RSET, EHLO, HELO, and after the DATA reply) to false; a lookup of ours for MAIL, RCPT or the message runs
 * inside that span.
 */
export function openTransactions(servers: Iterable<SMTPServer>): number {
  let n = 0;
  for (const server of servers) {
    for (const c of (server as unknown as { connections: Set<LiveSession> }).connections) {
      if (c.session?.envelope?.mailFrom) n++;
    }
  }
  return n;
}
