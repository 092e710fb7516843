// End of DATA: the message spooled as it arrives, then size and header checks, forged vouched headers removed,
// spamd and SPF/DKIM/DMARC, the quarantine choice, and the queue hand-off before 250. The message is untrusted.
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { spooledLength } from '@moat/queue';
import { authResults } from './auth-results.ts';
import { scanMessage } from './content-scan.ts';
import { type DataOutcome, journalDataOutcome } from './data-decision.ts';
import { dmarcDecision } from './dmarc-policy.ts';
import { hook, SmtpReply } from './hook.ts';
import { inNetworks } from './limits.ts';
import type { MxContext } from './mx-context.ts';
import { enqueueAll, queueFiles, queueMeta } from './queue-handoff.ts';
import { receivedHeader } from './received.ts';
import { DataAborted, RFC_LINE, type Received, receive } from './receive.ts';
import { queueFailureReply } from './replies.ts';
import { bare, type SessionState, sessionUser, type Tx } from './session-state.ts';
import { rearm } from './smtp-hooks.ts';
import { spamDecision } from './spam-policy.ts';
import { headerBlockProblem, headerEnd, headerValue, removedSummary, stripVouchedHeaders } from './vouched-headers.ts';

/** smtp-server's DATA hook: the stream goes to a draft file, then endOfData decides under its own budget. */
export function dataHook(ctx: MxContext): NonNullable<SMTPServerOptions['onData']> {
  const { settings, deps, logger } = ctx;
  const vouched = vouchedHeaders(ctx);
  return (stream, session, callback) => {
    // attach the readers first, then decide (smtp-server waits for 'end' before replying). The message goes
    // to a draft file in the spool as it arrives; only its header block stays in memory.
    const s = ctx.sessions.state(session);
    s.inData = true;
    rearm(ctx.server, session.id);
    const received = receive(stream, deps.queue, settings.limits.maxMessageSize);
    void (async () => {
      let rx: Received;
      try {
        rx = await received;
      } catch (e) {
        return callback(dataFailure(ctx, session, e));
      } finally {
        s.inData = false;
        rearm(ctx.server, session.id);
      }
      // the end-of-data budget (scan, auth results, queue) starts when the message is in, not at DATA:
      // a large message on a slow link is bounded by the DATA idle timeout and the session limit instead
      hook('data', ctx.dataTimeout, logger, (err, id?: string) => callback(err, id), (signal) =>
        endOfData(ctx, vouched, session, rx, signal).finally(() => rx.draft?.discard()),
      );
    })();
  };
}

/** DATA did not arrive whole: a client gone mid-DATA is routine (info); a spool that cannot take it is ours (451). */
function dataFailure(ctx: MxContext, session: SMTPServerSession, e: unknown): SmtpReply {
  const base = { session: session.id, client: bare(session.remoteAddress) };
  if (e instanceof DataAborted) {
    ctx.metrics.messages.inc({ outcome: 'aborted' });
    ctx.logger.info({ ...base, event: 'data-aborted', reason: e.message }, 'client went away during DATA');
    return new SmtpReply(421, '4.4.2 Connection dropped during DATA');
  }
  ctx.metrics.messages.inc({ outcome: 'tempfail-queue' });
  ctx.logger.error({ ...base, event: 'spool-failure', err: String((e as Error)?.message ?? e) }, 'cannot spool DATA');
  return queueFailureReply(e);
}

/** The message line's fields, and the two ways a message ends: `finish` (logged, counted) and `refused` (journaled). */
function outcomes(ctx: MxContext, session: SMTPServerSession, s: SessionState, tx: Tx, rx: Received) {
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
    ctx.metrics.messages.inc({ outcome });
    ctx.logger.info({ ...log, outcome, reply, ms: Math.round(performance.now() - tx.started), ...more }, 'message');
  };
  // a refusal after DATA is a decision too: journaled under the session (in the background, fails open)
  const refused = (o: DataOutcome) => {
    const one = envelope.rcptTo.length === 1 ? envelope.rcptTo[0]!.address : undefined;
    void ctx.sessions.facts(session, s, 'end-of-data', { recipient: one }).then(
      (f) => journalDataOutcome(ctx.deps.journal, f, o),
      () => undefined,
    );
  };
  return { envelope, log, finish, refused };
}

type Outcomes = ReturnType<typeof outcomes>;

/** Size and header-block limits: throws the 552 (logged, counted, journaled) when the message breaks one. */
function checkLimits(ctx: MxContext, rx: Received, out: Outcomes): void {
  const max = ctx.settings.limits.maxMessageSize;
  if (rx.tooBig || rx.size > max) {
    const r = new SmtpReply(552, '5.3.4 Message size exceeds fixed maximum message size');
    ctx.metrics.rejects.inc({ stage: 'end-of-data', restriction: 'message_size_limit', code: '552' });
    out.finish('rejected-size', `552 ${r.message}`);
    out.refused({ check: 'message_size_limit', action: 'reject', code: 552, text: r.message, reason: `${rx.size} bytes or more, limit ${max}` });
    throw r;
  }
  const headerProblem = headerBlockProblem(rx.prefix);
  if (headerProblem) {
    ctx.metrics.rejects.inc({ stage: 'end-of-data', restriction: 'header_size_limit', code: '552' });
    out.finish('rejected-header', `552 5.3.4 ${headerProblem}`);
    out.refused({ check: 'header_size_limit', action: 'reject', code: 552, text: `5.3.4 Message header block too large (${headerProblem})`, reason: headerProblem });
    throw new SmtpReply(552, `5.3.4 Message header block too large (${headerProblem})`);
  }
}

/** The header block as it will be queued: headers we vouch for, forged from outside, removed. */
function vouchedHeaders(ctx: MxContext) {
  const { settings, metrics, logger } = ctx;
  /** Authentication-Results ids that are ours: forged ones are removed from untrusted mail. */
  const vouchedIds = new Set([settings.authResults.authservId.toLowerCase(), settings.hostname.toLowerCase()]);
  const noIds = new Set<string>();
  return (session: SMTPServerSession, prefix: Buffer) => {
    // Headers we vouch for, forged from outside, go before anything reads the message (RFC 8601 section 5).
    // Our relays' verdict stays when they scanned the message (Yes/No); an `unchecked` one is replaced.
    const trustedRelay = inNetworks(bare(session.remoteAddress), settings.trustedRelays);
    // The header block as received is [0, skip) of the draft; `head` is what stands for it in the queue file.
    const skip = headerEnd(prefix);
    let head = prefix.subarray(0, skip);
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
    return { trustedRelay, scannedByRelay, head, skip };
  };
}

async function endOfData(ctx: MxContext, vouched: ReturnType<typeof vouchedHeaders>, session: SMTPServerSession, rx: Received, answered: AbortSignal): Promise<string> {
  const { settings, deps, metrics, logger } = ctx;
  const s = ctx.sessions.state(session);
  // this transaction's state, taken now: after a timeout's 451 the client may start the next one meanwhile
  const tx = s.tx;
  const out = outcomes(ctx, session, s, tx, rx);
  const { envelope, log, finish, refused } = out;
  checkLimits(ctx, rx, out);
  const draft = rx.draft!;
  const { trustedRelay, scannedByRelay, head, skip } = vouched(session, rx.prefix);
  const id = await ctx.sessions.identity(session, s);
  const client = bare(session.remoteAddress);
  const helo = session.hostNameAppearsAs || client;
  const rcpts = envelope.rcptTo.map((r) => r.address);
  const received = receivedHeader({
    helo,
    clientAddress: client,
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
  const scan = scanMessage(ctx, { session: session.id, scannedByRelay, top: [received, ...tx.prepend], head, draft, skip, messageLength });
  // Our relay checked SPF/DKIM/DMARC against the real client; here the client is the relay itself. DKIM is
  // verified on the message as it arrived (a signer may have signed a header we removed).
  const auth =
    settings.authResults.enabled && !trustedRelay
      ? authResults(
          { message: { head: rx.prefix, whole: () => draft.read() }, clientAddress: client, helo, sender, hostname: settings.hostname, authservId: settings.authResults.authservId },
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
  const exempt = ctx.inMyNetworks(client) ? 'mynetworks' : sessionUser(session) ? 'sasl' : undefined;
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

  const files = queueFiles(tx, rcpts);
  const user = sessionUser(session);
  // Ours to DKIM-sign: a logged-in client whose sender passed the login check, or a mynetworks host that is not
  // our backup MX (a trusted relay passes the world's mail on). Anyone else's mail (an alias forwarding a
  // stranger's message included) leaves unsigned: a signature vouches.
  const signable = !!((user && tx.loginChecked) || (ctx.inMyNetworks(client) && !trustedRelay));
  const meta = queueMeta({ client, helo, session: session.id, user, clientName: id.clientName, signable });
  const ids: string[] = [];
  try {
    await enqueueAll(deps.queue, files, { sender, prepend, message, meta, hold }, answered, ids, (q) => deps.journal?.linkQueueId(session.id, q));
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
    routes: [...new Set(files.map((f) => f.route))],
    nextHops: files.flatMap((f) => (f.nextHop ? [f.nextHop.raw] : [])),
    ...spamLog,
    auth: ar && !('error' in ar) ? { spf: ar.spf, dkim: ar.dkim, dmarc: ar.dmarc } : undefined,
    dmarc: dmarcLog,
    hold,
  });
  return reply;
}
