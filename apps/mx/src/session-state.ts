// One SMTP session's state between smtp-server's hooks: the open transaction, the client's FCrDNS, and the
// facts the engine is asked with. Trusts smtp-server's parsing; everything in a session came from the client.
import { type Facts, type Stage, unmapIPv4 } from '@moat/policy';
import type { RecipientInfo } from '@moat/queue';
import type { SMTPServerSession } from 'smtp-server';
import { type ClientIdentity, type MxResolver, verifyClient } from './dns.ts';
import type { SmtpReply } from './hook.ts';
import type { TlsSessionInfo } from './tls.ts';

export type Route = 'local' | 'relay';

export interface Tx {
  /** A HELO/MAIL reject held until RCPT (delayReject). */
  pending?: SmtpReply | undefined;
  /** This transaction's MAIL FROM path as written. */
  rawMailFrom?: string | undefined;
  /** The logged-in client's sender passed the listener's sender-login check (its mail may be DKIM-signed). */
  loginChecked?: boolean | undefined;
  prepend: string[];
  routes: Map<string, Route>;
  /** The final recipients each RCPT resolved to (with an address resolver). */
  finals: Map<string, { address: string; info: RecipientInfo }[]>;
  started: number;
}

export interface SessionState {
  peer: string;
  admitted: boolean;
  tls?: TlsSessionInfo | undefined;
  identity?: { address: string; result: Promise<ClientIdentity> } | undefined;
  tx: Tx;
  /** The HELO argument already judged at HELO time (delay_reject off), so MAIL does not judge it again. */
  heloJudged?: string | undefined;
  lifetime?: NodeJS.Timeout | undefined;
  commands: number;
  /**
   * The path of the MAIL FROM / RCPT TO command being handled, as the client wrote it (for
   * strict_rfc821_envelopes); a MAIL's is kept in its transaction, since smtp-server may refuse a later one.
   */
  rawMailFrom?: string | undefined;
  rawRcptTo?: string | undefined;
  /** The client is sending DATA: the DATA idle timeout applies. */
  inData?: boolean | undefined;
}

export const newTx = (): Tx => ({ prepend: [], routes: new Map(), finals: new Map(), started: performance.now() });
/** A client address as the engine and the logs name it (`::ffff:192.0.2.1` is 192.0.2.1). */
export const bare = unmapIPv4;

export function sessionUser(session: SMTPServerSession): string | undefined {
  const u = session.user as unknown;
  if (typeof u === 'string' && u) return u;
  if (u && typeof u === 'object' && typeof (u as { username?: unknown }).username === 'string') return (u as { username: string }).username;
  return undefined;
}

/** The open sessions of one gateway, by smtp-server's session id. */
export interface Sessions {
  get(id: string): SessionState | undefined;
  /** The session's state, made on first use. */
  state(session: SMTPServerSession): SessionState;
  delete(id: string): void;
  /** FCrDNS once per client address (XCLIENT may change it); XCLIENT NAME is taken as verified. */
  identity(session: SMTPServerSession, s: SessionState): Promise<ClientIdentity>;
  /** The engine's facts for one stage of this session. */
  facts(session: SMTPServerSession, s: SessionState, stage: Stage, extra?: Partial<Facts>): Promise<Facts>;
}

export function createSessions(resolver: MxResolver, dnsTimeoutMs: number): Sessions {
  const sessions = new Map<string, SessionState>();

  function identity(session: SMTPServerSession, s: SessionState): Promise<ClientIdentity> {
    const address = bare(session.remoteAddress);
    const xname = session.xClient?.get('NAME');
    if (session.xClient?.has('ADDR') && typeof xname === 'string' && xname && !xname.startsWith('[')) {
      return Promise.resolve({ clientName: xname.toLowerCase(), reverseName: xname.toLowerCase() });
    }
    if (!s.identity || s.identity.address !== address) {
      s.identity = { address, result: verifyClient(resolver, address, Math.min(dnsTimeoutMs, 5000)) };
    }
    return s.identity.result;
  }

  return {
    get: (id) => sessions.get(id),
    state(session) {
      let s = sessions.get(session.id);
      if (!s) {
        s = { peer: bare(session.remoteAddress), admitted: false, tx: newTx(), commands: 0 };
        sessions.set(session.id, s);
      }
      return s;
    },
    delete: (id) => void sessions.delete(id),
    identity,
    async facts(session, s, stage, extra = {}) {
      const id = await identity(session, s);
      const mailFrom = session.envelope.mailFrom;
      return {
        stage,
        clientAddress: bare(session.remoteAddress),
        clientName: id.clientName,
        reverseClientName: id.reverseName,
        helo: session.hostNameAppearsAs || undefined,
        sender: mailFrom ? mailFrom.address : undefined,
        rawSender: stage === 'mail' || stage === 'rcpt' ? s.tx.rawMailFrom : undefined,
        saslUsername: sessionUser(session),
        tls: session.secure,
        sessionId: session.id,
        ...extra,
      };
    },
  };
}
