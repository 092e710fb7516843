// The SMTP session: smtp-server wired to the engine (HELO/MAIL/RCPT), limits, STARTTLS, AUTH, the
// end-of-DATA scan and the queue. Talks to clients, the configured resolver, spamd and the queue.
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AddressResolver, NextHop } from '@moat/address';
import type { Authenticator } from '@moat/auth';
import type { Logger, Registry } from '@moat/observe';
import { cidrContains, type Facts, parseCidr, parseIp, type RecipientPort, type Stage, unmapIPv4, type Verdict } from '@moat/policy';
import { DKIM_META_KEY, DKIM_SIGN, queueRecipients, type QueueWriter, type RecipientInfo, spooledLength } from '@moat/queue';
import type { RateLimiter } from '@moat/ratelimit';
import { createDecisionMetrics, type DecisionSink, recordDecision, type SenderLoginCheck } from '@moat/runtime';
import { isSpamdError, type SpamdClient } from '@moat/spamd';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { authResults } from './auth-results.ts';
import { type ClientIdentity, type MxResolver, verifyClient } from './dns.ts';
import { hook, SmtpReply } from './hook.ts';
import { queueFailureReply, verdictReply } from './replies.ts';
import { Anvil, inNetworks } from './limits.ts';
import { createMxMetrics, type MxMetrics } from './metrics.ts';
import { mxRateLimits } from './rate-limits.ts';
import { receivedHeader } from './received.ts';
import type { MxView as MxSettings } from '@moat/config';
import { connections, envelopePath, type LiveConnection, rearm, registerServer } from './smtp-hooks.ts';
import { pickEviction, STRESS_ERROR_LIMIT, STRESS_TIMEOUT_MS, StressState, stressPerIpLimit } from './stress.ts';
import { spamDecision } from './spam-policy.ts';
import { dmarcDecision } from './dmarc-policy.ts';
import { type DataOutcome, journalDataOutcome } from './data-decision.ts';
import { DataAborted, RFC_LINE, type Received, receive } from './receive.ts';
import { headerBlockProblem, headerEnd, headerValue, removedSummary, stripVouchedHeaders } from './vouched-headers.ts';
import { describeTls, type TlsServerOptions, type TlsSessionInfo } from './tls.ts';


/** The sender-login restrictions that refuse a logged-in client an address it does not own. */
const OWNERSHIP_CHECKS: ReadonlySet<string> = new Set(['reject_sender_login_mismatch', 'reject_authenticated_sender_login_mismatch']);
export interface PolicyEngine {
  evaluate(facts: Facts): Promise<Verdict>;
}

export interface MxDeps {
  settings: MxSettings;
  engine: PolicyEngine;
  /** The spec's delayReject: HELO/MAIL rejects are answered at RCPT. */
  delayReject: boolean;
  /** Classifies recipients so authenticated users' mail to remote domains is queued for relay (without `addressResolver`). */
  recipients?: RecipientPort | undefined;
  /**
   * Resolves each accepted recipient at RCPT (class, aliases, next hop): an address that cannot be
   * resolved is refused with the resolution's status, and each final recipient is queued for its next hop.
   */
  addressResolver?: Pick<AddressResolver, 'resolve' | 'classify'> | undefined;
  queue: QueueWriter;
  spamd?: SpamdClient | undefined;
  resolver: MxResolver;
  /** STARTTLS offered when given. */
  tls?: TlsServerOptions | undefined;
  /** AUTH offered (after STARTTLS) when given. */
  authenticator?: Authenticator | undefined;
  logger: Logger;
  registry: Registry;
  /** Budget of the MAIL/RCPT hooks (DNS lists, greylist). Default: settings.limits.decisionTimeoutMs. */
  commandTimeoutMs?: number | undefined;
  /**
   * Submission (port 587, RFC 6409): AUTH (after STARTTLS) is required before MAIL, and the spam policy
   * is not run for logged-in users (their laptops' HELO names would fail the HELO checks). Content
   * scanning and the headers stay.
   */
  submission?: boolean | undefined;
  /**
   * This listener's sender-login check (mx.sender_login), run at MAIL FROM before the policy lists and
   * answered at once. Undefined: none (a logged-in client's mail is then never DKIM-signed).
   */
  senderLogin?: SenderLoginCheck | undefined;
  /**
   * Clients whose mail is ours to DKIM-sign (policy.mynetworks, as the seed's OpenDKIM InternalHosts): with a
   * logged-in client whose sender passed the login check, the only mail marked for signing (queue meta `dkim`).
   */
  myNetworks?: readonly string[] | undefined;
  /** The shared decision journal: every decision, and the queue ids a session's message got. */
  journal?: (DecisionSink & { linkQueueId(sessionId: string, queueId: string): void }) | undefined;
  /** Per-address session counts kept across config generations (MxShared); a new one when absent. */
  anvil?: Anvil | undefined;
  /** Rate limits shared by every MX (MAIL, RCPT, AUTH; fail open). */
  rateLimits?: RateLimiter | undefined;
  /**
   * Budget of end-of-DATA (scan, auth results, queue), counted from the end of the message. Default 120 s:
   * spamd's 30 s and the auth results' 10 s with room for the queue's fsyncs. The transfer itself is bounded
   * by mx.timeouts.data (idle) and mx.timeouts.session.
   */
  dataTimeoutMs?: number | undefined;
}

export interface Mx {
  readonly server: SMTPServer;
  readonly metrics: MxMetrics;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Serve a client connection accepted elsewhere (a listener shared by config generations). */
  accept(socket: Socket): void;
  close(): Promise<void>;
}

type Route = 'local' | 'relay';

interface Tx {
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

interface SessionState {
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

const newTx = (): Tx => ({ prepend: [], routes: new Map(), finals: new Map(), started: performance.now() });
const bare = unmapIPv4;

function sessionUser(session: SMTPServerSession): string | undefined {
  const u = session.user as unknown;
  if (typeof u === 'string' && u) return u;
  if (u && typeof u === 'object' && typeof (u as { username?: unknown }).username === 'string') return (u as { username: string }).username;
  return undefined;
}

export function createMx(deps: MxDeps): Mx {
  const { settings, logger, engine } = deps;
  const metrics = createMxMetrics(deps.registry);
  const decisions = createDecisionMetrics(deps.registry);
  // HELO/MAIL verdicts that decide nothing are counted, but logged only at debug: the RCPT decision
  // and the message line say it all (two lines per message, like Postfix's smtpd + cleanup)
  const quietLogger = logger.child({}, { level: logger.isLevelEnabled('debug') ? logger.level : 'warn' });
  const anvilLimits = { perIpConcurrency: settings.limits.perIpConcurrency, perIpRatePerMinute: settings.limits.perIpRatePerMinute };
  // shared with the other config generations of this listener (a reload must not reset what clients hold)
  const anvil = deps.anvil ?? new Anvil(anvilLimits);
  if (deps.anvil) anvil.configure(anvilLimits);
  const sessions = new Map<string, SessionState>();
  const rateLimits = deps.rateLimits && mxRateLimits(deps.rateLimits, metrics, !!deps.submission);
  const commandTimeout = deps.commandTimeoutMs ?? settings.limits.decisionTimeoutMs;
  const dataTimeout = deps.dataTimeoutMs ?? 120_000;
  const xclient = settings.xclientNetworks;
  /** Authentication-Results ids that are ours: forged ones are removed from untrusted mail. */
  const vouchedIds = new Set([settings.authResults.authservId.toLowerCase(), settings.hostname.toLowerCase()]);
  const noIds = new Set<string>();
  const listener = deps.submission ? 'submission' : 'smtp';
  const myNetworks = (deps.myNetworks ?? []).flatMap((n) => parseCidr(n) ?? []);
  const inMyNetworks = (address: string) => {
    const ip = parseIp(address);
    return ip !== undefined && myNetworks.some((n) => cidrContains(n, ip));
  };
  const loginCheck = deps.senderLogin;
  // reject_authenticated_sender_login_mismatch decides nothing without a login: not even asked then
  const loginCheckNeedsLogin = loginCheck?.restriction === 'reject_authenticated_sender_login_mismatch';
  const stress = new StressState(settings.limits.maxClients);
  metrics.stress.set({ listener }, 0);

  /** Recompute the stress state from the open connections; on a change, apply it to every session now. */
  function checkStress(): void {
    // every generation's sessions on this listener: the old ones draining after a reload count too
    const open = deps.anvil ? anvil.total() : server.connections.size;
    if (!stress.update(open)) return;
    const on = stress.on;
    metrics.stress.set({ listener }, on ? 1 : 0);
    metrics.stressSwitches.inc({ listener, to: on ? 'on' : 'off' });
    anvil.setConcurrency(on ? stressPerIpLimit(settings.limits.perIpConcurrency) : undefined);
    logger.warn(
      {
        event: on ? 'stress-on' : 'stress-off',
        listener,
        sessions: open,
        maxConnections: settings.limits.maxClients,
        ...stress.thresholds,
        timeoutMs: on ? STRESS_TIMEOUT_MS : settings.limits.idleTimeoutMs,
        perIpConcurrency: on ? stressPerIpLimit(settings.limits.perIpConcurrency) : settings.limits.perIpConcurrency,
      },
      on ? 'under stress: short timeouts, tighter limits' : 'stress over: normal timeouts and limits',
    );
    for (const c of connections(server)) rearm(server, c.id);
  }

  /** The idle timeout of a session now: stress, DATA, or between commands. */
  function idleTimeoutMs(conn: LiveConnection): number {
    const normal = sessions.get(conn.id)?.inData ? settings.limits.dataIdleTimeoutMs : settings.limits.idleTimeoutMs;
    return stress.on ? Math.min(STRESS_TIMEOUT_MS, normal) : normal;
  }

  const baseDisabled = ['VRFY', 'EXPN', ...(deps.tls ? [] : ['STARTTLS'])];

  function state(session: SMTPServerSession): SessionState {
    let s = sessions.get(session.id);
    if (!s) {
      s = { peer: bare(session.remoteAddress), admitted: false, tx: newTx(), commands: 0 };
      sessions.set(session.id, s);
    }
    return s;
  }

  /** FCrDNS once per client address (XCLIENT may change it); XCLIENT NAME is taken as verified. */
  function identity(session: SMTPServerSession, s: SessionState): Promise<ClientIdentity> {
    const address = bare(session.remoteAddress);
    const xname = session.xClient?.get('NAME');
    if (session.xClient?.has('ADDR') && typeof xname === 'string' && xname && !xname.startsWith('[')) {
      return Promise.resolve({ clientName: xname.toLowerCase(), reverseName: xname.toLowerCase() });
    }
    if (!s.identity || s.identity.address !== address) {
      s.identity = { address, result: verifyClient(deps.resolver, address, Math.min(settings.dns.timeoutMs, 5000)) };
    }
    return s.identity.result;
  }

  async function facts(session: SMTPServerSession, s: SessionState, stage: Stage, extra: Partial<Facts> = {}): Promise<Facts> {
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
  }

  /** Evaluate one stage; returns the reply to send (reject/defer) or undefined. Logs and counts. */
  async function decide(f: Facts, by: PolicyEngine = engine): Promise<{ verdict: Verdict; reply?: SmtpReply | undefined }> {
    const t = performance.now();
    const verdict = await by.evaluate(f);
    let reply: SmtpReply | undefined;
    if (verdict.action === 'reject' || verdict.action === 'defer') {
      reply = verdictReply(verdict);
      metrics.rejects.inc({ stage: f.stage, restriction: verdict.decidedBy ?? 'none', code: String(reply.responseCode) });
    }
    recordDecision(verdict.action === 'continue' && f.stage !== 'rcpt' ? quietLogger : logger, decisions, f, verdict, {
      ms: performance.now() - t,
      reply: reply ? `${reply.responseCode} ${reply.message}` : undefined,
      sink: deps.journal,
    });
    return { verdict, reply };
  }

  const options: SMTPServerOptions = {
    name: settings.hostname,
    banner: settings.banner,
    heloResponse: '%s',
    size: settings.limits.maxMessageSize,
    rejectOversized: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !deps.submission,
    authRequiredMessage: '5.7.0 Authentication required',
    allowInsecureAuth: false,
    disabledCommands: [...baseDisabled, ...(deps.authenticator ? [] : ['AUTH'])],
    hideSTARTTLS: !deps.tls,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    logger: false,
    maxClients: settings.limits.maxClients,
    useXClient: xclient.length > 0,
    socketTimeout: settings.limits.idleTimeoutMs,
    closeTimeout: 5000,
    maxCommandLength: settings.limits.maxLineLength,
    maxRecipients: settings.limits.maxRecipients,
    ...(deps.tls ?? {}),

    onConnect(session, callback) {
      const s = state(session);
      const admit = anvil.admit(s.peer);
      if (!admit.ok) {
        metrics.refused.inc({ reason: admit.reason });
        logger.info({ event: 'connection-refused', client: s.peer, reason: admit.reason }, 'connection refused');
        return callback(new SmtpReply(421, admit.message));
      }
      s.admitted = true;
      metrics.sessions.inc();
      metrics.sessionsActive.inc();
      checkStress();
      const disabled = [...baseDisabled];
      // until STARTTLS AUTH is neither offered nor accepted in clear (onSecure lifts it)
      disabled.push('AUTH');
      if (!inNetworks(s.peer, xclient)) disabled.push('XCLIENT', 'XFORWARD');
      session.disabledCommands = disabled;
      s.lifetime = setTimeout(() => {
        for (const c of server.connections) {
          if ((c as unknown as { id: string }).id === session.id) {
            logger.info({ event: 'session-timeout', session: session.id, client: s.peer }, 'session exceeded its time limit');
            (c as unknown as { send(code: number, text: string): void }).send(421, '4.4.2 Error: session time limit exceeded');
          }
        }
      }, settings.limits.sessionMaxMs);
      s.lifetime.unref();
      callback();
    },

    onSecure(socket, session, callback) {
      const s = state(session);
      try {
        s.tls = describeTls(socket as TLSSocket);
        metrics.tls.inc({ version: s.tls.version });
      } catch (e) {
        logger.warn({ event: 'tls-info', err: e }, 'cannot describe TLS session');
      }
      if (deps.authenticator && Array.isArray(session.disabledCommands)) {
        session.disabledCommands = session.disabledCommands.filter((c) => c !== 'AUTH');
      }
      callback();
    },

    onAuth(auth, session, callback) {
      hook('auth', commandTimeout, logger, callback, async () => {
        const s = state(session);
        if (auth.method === 'XCLIENT') {
          // XCLIENT LOGIN=name: the proxy authenticated the client (Postfix XCLIENT_README). smtp-server only
          // takes XCLIENT from mx.xclient.trusted_networks; checked again here against the proxy's own address.
          const proxy = bare(String(session.xClient?.get('ADDR:DEFAULT') ?? session.remoteAddress));
          const ok = inNetworks(proxy, xclient) && /^[\x21-\x7e]{1,256}$/.test(auth.username ?? '');
          metrics.auth.inc({ result: ok ? 'xclient' : 'refused' });
          logger.info({ event: 'auth', session: session.id, client: s.peer, proxy, method: 'XCLIENT', user: (auth.username ?? '').slice(0, 128), result: ok ? 'ok' : 'refused' }, 'auth');
          return ok ? { user: auth.username } : { message: '5.7.0 XCLIENT LOGIN not authorized', responseCode: 550 };
        }
        if (!deps.authenticator || !session.secure || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')) {
          metrics.auth.inc({ result: 'refused' });
          return { message: '5.7.0 Authentication not available', responseCode: 530 };
        }
        // the client's address (XCLIENT's, behind a proxy): one user's bad passwords must not lock out the proxy's others
        const client = bare(session.remoteAddress);
        const limited = await rateLimits?.auth(client);
        if (limited) return limited;
        const r = await deps.authenticator.authenticate(client, auth.username ?? '', auth.password ?? '');
        if (!r.ok && r.reason === 'bad-credentials') await rateLimits?.authFailed(client);
        metrics.auth.inc({ result: r.ok ? 'ok' : r.reason });
        logger.info(
          { event: 'auth', session: session.id, client: s.peer, method: auth.method, user: (auth.username ?? '').slice(0, 128), result: r.ok ? 'ok' : r.reason },
          'auth',
        );
        return r.ok ? { user: r.user } : { message: r.message, responseCode: r.code };
      });
    },

    onMailFrom(address, session, callback) {
      hook('mail', commandTimeout, logger, callback, async () => {
        const s = state(session);
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
          const { reply } = await decide(f, loginCheck.engine);
          if (reply) throw reply;
          // signable only when the check proved the login owns a real sender: the unauthenticated and "known"
          // forms pass unowned senders, and the null sender is never checked
          s.tx.loginChecked = user !== undefined && address.address !== '' && OWNERSHIP_CHECKS.has(loginCheck.restriction);
        }
        if (deps.submission) return;
        for (const stage of ['helo', 'mail'] as const) {
          if (stage === 'helo' && s.heloJudged !== undefined && s.heloJudged === (session.hostNameAppearsAs || undefined)) continue;
          const f = await facts(session, s, stage, stage === 'mail' ? { sender: address.address } : { sender: undefined });
          const { verdict, reply } = await decide(f);
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
      hook('rcpt', commandTimeout, logger, callback, async () => {
        const s = state(session);
        await rateLimits?.rcpt(bare(session.remoteAddress), sessionUser(session));
        const f = await facts(session, s, 'rcpt', { recipient: address.address, rawRecipient: s.rawRcptTo });
        // a bare postmaster is accepted whatever was held for RCPT (Postfix's smtpd_check_rcpt returns first)
        if (s.tx.pending && address.address.toLowerCase() !== 'postmaster') {
          metrics.rejects.inc({ stage: 'rcpt', restriction: 'delayed', code: String(s.tx.pending.responseCode) });
          logger.info({ event: 'delayed-reject', session: session.id, client: f.clientAddress, helo: f.helo, sender: f.sender, recipient: f.recipient, reply: `${s.tx.pending.responseCode} ${s.tx.pending.message}` }, 'delayed reject');
          throw s.tx.pending;
        }
        if (deps.submission && !f.saslUsername) throw new SmtpReply(530, '5.7.0 Authentication required');
        if (!deps.submission) {
          const { verdict, reply } = await decide(f);
          if (reply) throw reply;
          for (const h of verdict.prepend) if (!s.tx.prepend.includes(h)) s.tx.prepend.push(h);
        }
        if (deps.addressResolver) {
          // Postfix's trivial-rewrite at RCPT: refused here when it cannot be resolved, routed when it can
          const res = deps.addressResolver.resolve(address.address);
          if (!res.ok) {
            const code = res.reason === 'lookup-failure' ? 451 : res.status.startsWith('4.') ? 450 : 550;
            // Postfix's form: `<addr>: Recipient address rejected: text` (the resolver gives the text alone)
            const text = res.text.startsWith('<') ? res.text : `<${address.address}>: Recipient address rejected: ${res.text}`;
            const reply = new SmtpReply(code, `${res.status} ${text}`);
            metrics.rejects.inc({ stage: 'rcpt', restriction: 'address_resolution', code: String(code) });
            logger.info(
              { event: 'recipient-refused', session: session.id, client: f.clientAddress, sender: f.sender, recipient: f.recipient, class: res.class, reason: res.reason, reply: `${code} ${reply.message}`, trace: res.trace },
              'recipient refused by address resolution',
            );
            throw reply;
          }
          const finals = queueRecipients(address.address, res);
          // The address itself (not an alias's target) resolving to error: refused here, as Postfix's smtpd
          // does (checked: `error:4.2.0 later` in transport_maps answers 550 5.2.0 at RCPT). Alias targets
          // are expanded after the 250, so theirs bounce, as Postfix's cleanup does.
          const own = finals.length === 1 && finals[0]!.address.toLowerCase() === address.address.toLowerCase() ? finals[0]!.info.nextHop : undefined;
          if (own?.transport === 'error') {
            const status = own.status.replace(/^4\./, '5.');
            const reply = new SmtpReply(550, `${status} <${address.address}>: Recipient address rejected: ${own.text || 'delivery not permitted'}`);
            metrics.rejects.inc({ stage: 'rcpt', restriction: 'address_resolution', code: '550' });
            logger.info(
              { event: 'recipient-refused', session: session.id, client: f.clientAddress, sender: f.sender, recipient: f.recipient, class: res.class, reason: 'error-transport', reply: `550 ${reply.message}`, trace: res.trace },
              'recipient refused by address resolution',
            );
            throw reply;
          }
          s.tx.finals.set(address.address, finals);
          return;
        }
        let route: Route = 'local';
        if (f.saslUsername && deps.recipients) {
          if ((await deps.recipients.classify(address.address)) === 'remote') route = 'relay';
        }
        s.tx.routes.set(address.address, route);
      });
    },

    onData(stream, session, callback) {
      // attach the readers first, then decide (smtp-server waits for 'end' before replying). The message goes
      // to a draft file in the spool as it arrives; only its header block stays in memory.
      const s = state(session);
      s.inData = true;
      rearm(server, session.id);
      const received = receive(stream, deps.queue, settings.limits.maxMessageSize);
      void (async () => {
        let rx: Received;
        try {
          rx = await received;
        } catch (e) {
          return callback(dataFailure(session, e));
        } finally {
          s.inData = false;
          rearm(server, session.id);
        }
        // the end-of-data budget (scan, auth results, queue) starts when the message is in, not at DATA:
        // a large message on a slow link is bounded by the DATA idle timeout and the session limit instead
        hook('data', dataTimeout, logger, (err, id?: string) => callback(err, id), (signal) =>
          endOfData(session, rx, signal).finally(() => rx.draft?.discard()),
        );
      })();
    },

    onClose(session) {
      const s = sessions.get(session.id);
      if (!s) return;
      sessions.delete(session.id);
      clearTimeout(s.lifetime);
      if (s.admitted) {
        anvil.release(s.peer);
        metrics.sessionsActive.dec();
      }
      // this connection is still in server.connections while onClose runs
      queueMicrotask(checkStress);
    },
  };

  /** DATA did not arrive whole: a client gone mid-DATA is routine (info); a spool that cannot take it is ours (451). */
  function dataFailure(session: SMTPServerSession, e: unknown): SmtpReply {
    const base = { session: session.id, client: bare(session.remoteAddress) };
    if (e instanceof DataAborted) {
      metrics.messages.inc({ outcome: 'aborted' });
      logger.info({ ...base, event: 'data-aborted', reason: e.message }, 'client went away during DATA');
      return new SmtpReply(421, '4.4.2 Connection dropped during DATA');
    }
    metrics.messages.inc({ outcome: 'tempfail-queue' });
    logger.error({ ...base, event: 'spool-failure', err: String((e as Error)?.message ?? e) }, 'cannot spool DATA');
    return queueFailureReply(e);
  }

  async function endOfData(session: SMTPServerSession, rx: Received, answered: AbortSignal): Promise<string> {
    const s = state(session);
    // this transaction's state, taken now: after a timeout's 451 the client may start the next one meanwhile
    const tx = s.tx;
    const envelope = { mailFrom: session.envelope.mailFrom, rcptTo: [...session.envelope.rcptTo] };
    const log = {
      event: 'message',
      session: session.id,
      client: bare(session.remoteAddress),
      helo: session.hostNameAppearsAs || undefined,
      sender: envelope.mailFrom ? envelope.mailFrom.address : undefined,
      recipients: envelope.rcptTo.length,
      size: rx.size,
      // lines over RFC 5321's 1,000 octets are accepted unchanged, as Postfix does (see receive.ts)
      longestLine: rx.longestLine > RFC_LINE ? rx.longestLine : undefined,
      tls: s.tls?.version,
      user: sessionUser(session),
    };
    const finish = (outcome: string, reply: string, more: Record<string, unknown> = {}) => {
      metrics.messages.inc({ outcome });
      logger.info({ ...log, outcome, reply, ms: Math.round(performance.now() - tx.started), ...more }, 'message');
    };
    // a refusal after DATA is a decision too: journaled under the session (in the background, fails open)
    const refused = (o: DataOutcome) => {
      const one = envelope.rcptTo.length === 1 ? envelope.rcptTo[0]!.address : undefined;
      void facts(session, s, 'end-of-data', { recipient: one }).then(
        (f) => journalDataOutcome(deps.journal, f, o),
        () => undefined,
      );
    };
    if (rx.tooBig || rx.size > settings.limits.maxMessageSize) {
      const r = new SmtpReply(552, '5.3.4 Message size exceeds fixed maximum message size');
      metrics.rejects.inc({ stage: 'end-of-data', restriction: 'message_size_limit', code: '552' });
      finish('rejected-size', `552 ${r.message}`);
      refused({ check: 'message_size_limit', action: 'reject', code: 552, text: r.message, reason: `${rx.size} bytes or more, limit ${settings.limits.maxMessageSize}` });
      throw r;
    }
    const draft = rx.draft!;
    const headerProblem = headerBlockProblem(rx.prefix);
    if (headerProblem) {
      metrics.rejects.inc({ stage: 'end-of-data', restriction: 'header_size_limit', code: '552' });
      finish('rejected-header', `552 5.3.4 ${headerProblem}`);
      refused({ check: 'header_size_limit', action: 'reject', code: 552, text: `5.3.4 Message header block too large (${headerProblem})`, reason: headerProblem });
      throw new SmtpReply(552, `5.3.4 Message header block too large (${headerProblem})`);
    }
    // Headers we vouch for, forged from outside, go before anything reads the message (RFC 8601 section 5).
    // Our relays' verdict stays when they scanned the message (Yes/No); an `unchecked` one is replaced.
    const trustedRelay = inNetworks(bare(session.remoteAddress), settings.trustedRelays);
    // The header block as received is [0, skip) of the draft; `head` is what stands for it in the queue file.
    const skip = headerEnd(rx.prefix);
    let head = rx.prefix.subarray(0, skip);
    const scannedByRelay = trustedRelay && /^(yes|no)\b/i.test(headerValue(head, 'X-Spam-Status') ?? '');
    if (!scannedByRelay) {
      const stripped = stripVouchedHeaders(head, trustedRelay ? noIds : vouchedIds);
      if (stripped.removed.length > 0) {
        head = stripped.message;
        for (const name of stripped.removed) metrics.vouchedHeadersRemoved.inc({ header: name === 'authentication-results' || name.startsWith('x-moat-') ? name : 'x-spam*' });
        logger.info(
          { event: trustedRelay ? 'relay-spam-headers-replaced' : 'forged-headers-removed', session: session.id, client: bare(session.remoteAddress), headers: removedSummary(stripped.removed) },
          'removed headers we vouch for',
        );
      }
    }
    const id = await identity(session, s);
    const helo = session.hostNameAppearsAs || bare(session.remoteAddress);
    const rcpts = envelope.rcptTo.map((r) => r.address);
    const received = receivedHeader({
      helo,
      clientAddress: bare(session.remoteAddress),
      clientName: id.clientName,
      byHost: settings.hostname,
      protocol: session.transmissionType || 'ESMTP',
      id: session.id,
      tls: s.tls,
      recipient: rcpts.length === 1 ? rcpts[0] : undefined,
    });
    const sender = envelope.mailFrom ? envelope.mailFrom.address : '';

    const message = draft.message(head, skip);
    const messageLength = spooledLength(message);
    const scan = (async () => {
      if (scannedByRelay) return { relayed: 'scanned by the trusted relay' } as const;
      if (!deps.spamd || !settings.spamd.enabled) return { skipped: 'scanner disabled' } as const;
      if (messageLength > settings.spamd.maxScanBytes) return { skipped: 'message too large to scan' } as const;
      // our Received and the RCPT verdicts' headers (X-Moat-DNSBL-Score: a SpamAssassin rule scores it)
      const top = Buffer.from(`${[received, ...tx.prepend].join('\r\n')}\r\n`);
      // what spamd sees: our Received, the header block as it will be queued, the body from the draft file
      async function* chunks() {
        yield top;
        yield head;
        yield* draft.read(skip);
      }
      try {
        return { result: await deps.spamd.check({ length: top.length + messageLength, chunks: chunks() }) } as const;
      } catch (e) {
        const code = isSpamdError(e) ? e.code : 'unknown';
        metrics.spamdFailures.inc({ code });
        logger.warn({ event: 'spamd-failure', session: session.id, code, err: String((e as Error)?.message ?? e) }, 'spamd failed');
        return { error: code } as const;
      }
    })();
    // Our relay checked SPF/DKIM/DMARC against the real client; here the client is the relay itself. DKIM is
    // verified on the message as it arrived (a signer may have signed a header we removed).
    const auth =
      settings.authResults.enabled && !trustedRelay
        ? authResults(
            { message: { head: rx.prefix, whole: () => draft.read() }, clientAddress: bare(session.remoteAddress), helo, sender, hostname: settings.hostname, authservId: settings.authResults.authservId },
            deps.resolver,
            settings.authResults.timeoutMs,
          )
        : Promise.resolve(undefined);
    const [scanned, ar] = await Promise.all([scan, auth]);
    const decision = spamDecision(scanned, settings.spamd);
    const result = 'result' in scanned ? scanned.result : undefined;
    const spamLog = { spam: result ? { score: result.score, threshold: result.threshold } : scanned };
    if (result) metrics.spamScore.observe(result.score);
    if (decision.action === 'reject') {
      metrics.rejects.inc({ stage: 'end-of-data', restriction: 'spamassassin', code: '550' });
      finish('rejected-spam', `550 ${decision.text}`, spamLog);
      refused({ check: 'spamassassin', action: 'reject', code: decision.code, text: decision.text, reason: result ? `score ${result.score.toFixed(1)}, threshold ${result.threshold.toFixed(1)}` : undefined });
      throw new SmtpReply(decision.code, decision.text);
    }
    const exempt = inMyNetworks(bare(session.remoteAddress)) ? 'mynetworks' : sessionUser(session) ? 'sasl' : undefined;
    const dmarc = dmarcDecision(ar && 'error' in ar ? ar : ar?.dmarcFacts, exempt, settings.dmarc);
    const dmarcLog = dmarc.action === 'accept' ? undefined : { action: dmarc.action, domain: dmarc.domain, policy: dmarc.policy, reason: dmarc.reason };
    if (dmarc.action === 'reject') {
      metrics.rejects.inc({ stage: 'end-of-data', restriction: 'dmarc', code: '550' });
      finish('rejected-dmarc', `550 ${dmarc.text}`, { ...spamLog, dmarc: dmarcLog });
      refused({ check: 'dmarc', action: 'reject', code: 550, text: dmarc.text!, reason: dmarc.reason });
      throw new SmtpReply(550, dmarc.text!);
    }
    if (decision.action === 'tempfail') {
      metrics.rejects.inc({ stage: 'end-of-data', restriction: 'spamassassin', code: '451' });
      finish('tempfail-scanner', `451 ${decision.text}`, spamLog);
      refused({ check: 'spamassassin', action: 'defer', code: decision.code, text: decision.text, reason: `scanner failed: ${decision.reason}` });
      throw new SmtpReply(decision.code, decision.text);
    }
    const authHeaders = ar && 'headers' in ar ? ar.headers : [];
    if (ar && 'error' in ar) logger.warn({ event: 'auth-results-failure', session: session.id, err: ar.error }, 'SPF/DKIM/DMARC check failed');
    // the queue takes one physical line per header (no CR/LF): unfold, and drop anything else odd
    const hold =
      dmarc.action === 'quarantine'
        ? { check: 'dmarc', reason: `DMARC ${dmarc.reason} (${dmarc.domain})` }
        : decision.action === 'quarantine'
          ? { check: 'spamassassin', reason: decision.reason, score: decision.score }
          : undefined;
    const prepend = [received, ...authHeaders, ...(dmarc.header ? [dmarc.header] : []), ...decision.headers, ...tx.prepend].map((h) => h.replace(/\r?\n[ \t]+/g, ' ').replace(/[\r\n\0]/g, ' '));

    // one queue file per next hop (resolved recipients) or per route (without a resolver); an address
    // reached by two RCPTs (or two aliases) is queued once
    const files = new Map<string, { route: Route; nextHop?: NextHop; recipients: string[]; info: Map<string, RecipientInfo> }>();
    const queued = new Set<string>();
    for (const r of rcpts) {
      const finals = tx.finals.get(r);
      const each = finals ?? [{ address: r, info: {} as RecipientInfo }];
      for (const f of each) {
        if (queued.has(f.address.toLowerCase())) continue;
        queued.add(f.address.toLowerCase());
        const route: Route = finals ? (f.info.class === 'remote' ? 'relay' : 'local') : (tx.routes.get(r) ?? 'local');
        const key = f.info.nextHop ? JSON.stringify(f.info.nextHop) : `route:${route}`;
        let file = files.get(key);
        if (!file) {
          file = { route, ...(f.info.nextHop ? { nextHop: f.info.nextHop } : {}), recipients: [], info: new Map() };
          files.set(key, file);
        }
        file.recipients.push(f.address);
        if (finals) file.info.set(f.address, f.info);
      }
    }
    const meta: Record<string, string> = { client: bare(session.remoteAddress), helo, session: session.id };
    const user = sessionUser(session);
    if (user) meta.saslUser = user;
    // Ours to DKIM-sign: a logged-in client whose sender passed the login check, or a mynetworks host that is not
    // our backup MX (a trusted relay passes the world's mail on). Anyone else's mail (an alias forwarding a
    // stranger's message included) leaves unsigned: a signature vouches.
    if ((user && tx.loginChecked) || (inMyNetworks(bare(session.remoteAddress)) && !trustedRelay)) meta[DKIM_META_KEY] = DKIM_SIGN;
    if (id.clientName) meta.clientName = id.clientName;
    const ids: string[] = [];
    try {
      for (const { route, nextHop, recipients, info } of files.values()) {
        // answered 451 already (the end-of-data budget ran out): queueing now would deliver a message the
        // client will send again; what was queued before the timeout stays (duplicates beat loss)
        if (answered.aborted) throw new SmtpReply(451, '4.3.0 Timed out, try again later');
        const q = await deps.queue.enqueue({ sender, recipients, prepend, message, meta, route, ...(nextHop ? { nextHop } : {}), ...(info.size ? { recipientInfo: info } : {}), ...(hold ? { hold } : {}) });
        ids.push(q.id);
        deps.journal?.linkQueueId(session.id, q.id);
      }
    } catch (e) {
      logger.error({ ...log, event: 'queue-failure', err: String((e as Error)?.message ?? e), queued: ids }, 'enqueue failed');
      metrics.messages.inc({ outcome: 'tempfail-queue' });
      // a partial enqueue is delivered; the client retries the whole message (duplicates beat loss)
      throw queueFailureReply(e);
    }
    metrics.messageBytes.observe(messageLength);
    if (rx.longestLine > RFC_LINE) metrics.longLines.inc();
    const reply = `2.0.0 Ok: queued as ${ids.join(' ')}`;
    finish(hold ? 'quarantined' : 'accepted', `250 ${reply}`, {
      queueIds: ids,
      routes: [...new Set([...files.values()].map((f) => f.route))],
      nextHops: [...files.values()].flatMap((f) => (f.nextHop ? [f.nextHop.raw] : [])),
      ...spamLog,
      auth: ar && !('error' in ar) ? { spf: ar.spf, dkim: ar.dkim, dmarc: ar.dmarc } : undefined,
      dmarc: dmarcLog,
      hold,
    });
    return reply;
  }

  const server = new SMTPServer(options);
  registerServer(server, (conn, name, line) => {
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
  }, {
    greetPauseMs: settings.limits.greetPauseMs,
    errorLimit: settings.limits.maxErrors,
    policy: {
      idleTimeoutMs,
      errorLimit: () => (stress.on ? STRESS_ERROR_LIMIT : settings.limits.maxErrors),
      // at the connection limit under stress, a newcomer gets the place of the oldest client still silent
      evict(conns) {
        if (!stress.on) return undefined;
        const victim = pickEviction(conns);
        if (victim) {
          metrics.stressDropped.inc({ listener });
          logger.info({ event: 'stress-drop', listener, session: victim.id, client: bare(victim.session.remoteAddress) }, 'dropped a session without EHLO to make room');
        }
        return victim;
      },
    },
    // delay_reject off: HELO restrictions answer the HELO itself (Postfix smtpd_delay_reject = no)
    heloCheck:
      deps.delayReject || deps.submission
        ? undefined
        : async (conn, helo) => {
            const s = sessions.get(conn.session.id);
            if (!s) return undefined;
            const f = await facts(conn.session, s, 'helo', { helo: helo.toLowerCase(), sender: undefined });
            const { reply } = await Promise.race([
              decide(f),
              new Promise<never>((_, reject) => setTimeout(() => reject(new Error('helo decision timed out')), commandTimeout).unref()),
            ]);
            if (reply) return { code: reply.responseCode, text: reply.message };
            s.heloJudged = helo.toLowerCase();
            return undefined;
          },
  });
  // client sockets that reset or time out are routine on an MX: not errors of ours
  const routine = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_SSL_WRONG_VERSION_NUMBER']);
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code && routine.has(e.code)) logger.debug({ event: 'client-socket', code: e.code }, 'client socket error');
    else logger.warn({ event: 'server-error', err: e }, 'smtp server error');
  });

  return {
    server,
    metrics,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.server.address() as AddressInfo);
        });
      });
    },
    accept(socket) {
      // smtp-server's connection handler is its net.Server's 'connection' listener (proxy, limits, greeting)
      server.server.emit('connection', socket);
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
