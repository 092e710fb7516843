// The command gate: each command line before smtp-server runs it (limits, VRFY/EXPN, AUTH and XCLIENT rules),
// the HELO check, and MAIL/RCPT asked of the engine (delay_reject, sender login). Client input, judged here.
import type { Facts } from '@moat/policy';
import { withTimeout } from '@moat/redis';
import type { SMTPServerOptions } from 'smtp-server';
import { counted, hook, SmtpReply } from './hook.ts';
import { inNetworks } from './limits.ts';
import type { MxContext } from './mx-context.ts';
import { routeRecipient } from './recipient-route.ts';
import { bare, newTx, sessionUser } from './session-state.ts';
import { type CommandGate, envelopePath, type HeloCheck } from './smtp-hooks.ts';

/** The sender-login restrictions that refuse a logged-in client an address it does not own. */
const OWNERSHIP_CHECKS: ReadonlySet<string> = new Set(['reject_sender_login_mismatch', 'reject_authenticated_sender_login_mismatch']);

/** Refusals of a command line before smtp-server parses it (what it gives no option for). */
export function commandGate(ctx: MxContext): CommandGate {
  const { settings, deps, sessions, xclient } = ctx;
  return (conn, name, line) => {
    const s = sessions.get(conn.session.id);
    if (s) {
      s.commands++;
      // the envelope paths as written, for strict_rfc821_envelopes (smtp-server keeps only the parsed address)
      if (name === 'MAIL') s.rawMailFrom = envelopePath(line, 'FROM');
      else if (name === 'RCPT') s.rawRcptTo = envelopePath(line, 'TO');
      if (s.commands > settings.limits.maxCommands) return { code: 421, text: '4.7.0 Error: too many commands' };
    }
    if (name === 'VRFY' || name === 'EXPN') return { code: 502, text: `5.5.1 Error: ${name} command is disabled` };
    if (name === 'AUTH' && deps.authenticator && !conn.secure) return { code: 530, text: '5.7.0 Must issue a STARTTLS command first' };
    // a login in the middle of a transaction would skip the sender-login check MAIL FROM already passed (Postfix's words)
    if (name === 'AUTH' && conn.session?.envelope?.mailFrom) return { code: 503, text: '5.5.1 Error: MAIL transaction in progress' };
    if ((name === 'XCLIENT' || name === 'XFORWARD') && !inNetworks(s?.peer ?? conn.session.remoteAddress, xclient)) {
      return { code: 550, text: '5.7.0 Error: insufficient authorization' };
    }
    return undefined;
  };
}

/** delay_reject off: HELO restrictions answer the HELO itself (Postfix smtpd_delay_reject = no). */
export function heloCheck(ctx: MxContext): HeloCheck | undefined {
  if (ctx.deps.delayReject || ctx.deps.submission) return undefined;
  // counted: its lookups (client name, HELO name, lists) run before any transaction marks the session busy
  return (conn, helo) =>
    counted(async () => {
      const s = ctx.sessions.get(conn.session.id);
      if (!s) return undefined;
      const f = await ctx.sessions.facts(conn.session, s, 'helo', { helo: helo.toLowerCase(), sender: undefined });
      const { reply } = await withTimeout(ctx.decide(f), ctx.commandTimeout, () => new Error('helo decision timed out'));
      if (reply) return { code: reply.responseCode, text: reply.message };
      s.heloJudged = helo.toLowerCase();
      return undefined;
    });
}

/** smtp-server's MAIL FROM and RCPT TO hooks. */
export function envelopeHooks(ctx: MxContext): Pick<SMTPServerOptions, 'onMailFrom' | 'onRcptTo'> {
  const { deps, metrics, logger, sessions, rateLimits } = ctx;
  const loginCheck = deps.senderLogin;
  // reject_authenticated_sender_login_mismatch decides nothing without a login: not even asked then
  const loginCheckNeedsLogin = loginCheck?.restriction === 'reject_authenticated_sender_login_mismatch';
  return {
    onMailFrom(address, session, callback) {
      hook('mail', ctx.commandTimeout, logger, callback, async () => {
        const s = sessions.state(session);
        s.tx = newTx();
        s.tx.rawMailFrom = s.rawMailFrom;
        const user = sessionUser(session);
        await rateLimits?.mail(bare(session.remoteAddress), user);
        // never rely on smtp-server alone here: before STARTTLS AUTH is disabled, and it then
        // stops requiring it. No spam policy runs on this port, so no login means no mail at all.
        if (deps.submission && !user) throw new SmtpReply(530, '5.7.0 Authentication required');
        if (loginCheck && (user || !loginCheckNeedsLogin)) {
          // who may send as whom: answered at MAIL FROM, whatever delay_reject says for the policy lists
          const f: Facts = { stage: 'mail', clientAddress: bare(session.remoteAddress), helo: session.hostNameAppearsAs || undefined, sender: address.address, saslUsername: user, tls: session.secure, sessionId: session.id };
          const { reply } = await ctx.decide(f, loginCheck.engine);
          if (reply) throw reply;
          // signable only when the check proved the login owns a real sender: the unauthenticated and "known"
          // forms pass unowned senders, and the null sender is never checked
          s.tx.loginChecked = user !== undefined && address.address !== '' && OWNERSHIP_CHECKS.has(loginCheck.restriction);
        }
        if (deps.submission) return;
        for (const stage of ['helo', 'mail'] as const) {
          if (stage === 'helo' && s.heloJudged !== undefined && s.heloJudged === (session.hostNameAppearsAs || undefined)) continue;
          const f = await sessions.facts(session, s, stage, stage === 'mail' ? { sender: address.address } : { sender: undefined });
          const { verdict, reply } = await ctx.decide(f);
          if (!reply) continue;
          // envelope syntax is refused at once, whatever delay_reject says (as Postfix does)
          if (deps.delayReject && verdict.decidedBy !== 'strict_rfc821_envelopes') {
            s.tx.pending ??= reply;
            break;
          }
          throw reply;
        }
      });
    },

    onRcptTo(address, session, callback) {
      hook('rcpt', ctx.commandTimeout, logger, callback, async () => {
        const s = sessions.state(session);
        await rateLimits?.rcpt(bare(session.remoteAddress), sessionUser(session));
        const f = await sessions.facts(session, s, 'rcpt', { recipient: address.address, rawRecipient: s.rawRcptTo });
        // a bare postmaster is accepted whatever was held for RCPT (Postfix's smtpd_check_rcpt returns first)
        if (s.tx.pending && address.address.toLowerCase() !== 'postmaster') {
          metrics.rejects.inc({ stage: 'rcpt', restriction: 'delayed', code: String(s.tx.pending.responseCode) });
          logger.info({ event: 'delayed-reject', session: session.id, client: f.clientAddress, helo: f.helo, sender: f.sender, recipient: f.recipient, reply: `${s.tx.pending.responseCode} ${s.tx.pending.message}` }, 'delayed reject');
          throw s.tx.pending;
        }
        if (deps.submission && !f.saslUsername) throw new SmtpReply(530, '5.7.0 Authentication required');
        if (!deps.submission) {
          const { verdict, reply } = await ctx.decide(f);
          if (reply) throw reply;
          for (const h of verdict.prepend) if (!s.tx.prepend.includes(h)) s.tx.prepend.push(h);
        }
        await routeRecipient(ctx, s, address.address, f);
      });
    },
  };
}
