// A small SMTP/LMTP client for one delivery: per-recipient replies, 4xx/5xx kept apart, opportunistic STARTTLS.
// Talks to one next hop over TCP; everything the server says is untrusted text, only reply codes decide.
import type { Socket } from 'node:net';
import type { TlsOutcomeFailure } from './tls-requirement.ts';
import { Conversation, type Reply } from './smtp-client/conversation.ts';
import { type AttemptResult, allRecipients, type Exchange, type SmtpSendOptions, type SmtpSendResult } from './smtp-client/exchange.ts';
import { hello } from './smtp-client/hello.ts';
import { putCached, takeCached } from './smtp-client/session-cache.ts';
import { connectTcp } from './smtp-client/socket.ts';
import { transaction } from './smtp-client/transaction.ts';

export { closeCachedSessions } from './smtp-client/session-cache.ts';
export { dotStuff, dotStuffParts } from './smtp-client/dot-stuff.ts';
export type { SmtpSendOptions, SmtpSendResult };

/**
 * Deliver one message to one next hop. Never throws: connection failures become `deferred` results
 * for every recipient, reply codes map per recipient (2xx sent, 4xx deferred, 5xx bounced).
 */
export async function smtpSend(opts: SmtpSendOptions): Promise<SmtpSendResult> {
  const seen: { failure?: TlsOutcomeFailure } = {};
  const first = await attempt(opts, opts.starttls ?? 'opportunistic', seen);
  // opportunistic: fall back to plain text; a TLS policy never does (attempt refused it already)
  const res = first.tlsFailed && !opts.tls?.required ? await attempt(opts, 'never', {}) : first;
  return seen.failure ? { ...res, tlsFailure: seen.failure } : res;
}

/** A cached session from an earlier delivery to `key`, with its EHLO reply: RSET proves it is still usable. */
async function cachedSession(key: string): Promise<{ c: Conversation; ehlo: Reply } | undefined> {
  for (;;) {
    const s = takeCached(key);
    if (!s) return undefined;
    try {
      if ((await s.c.command('RSET')).code === 250) return { c: s.c, ehlo: s.ehlo };
      s.c.end();
    } catch {
      s.c.end();
    }
  }
}

async function attempt(opts: SmtpSendOptions, starttls: 'never' | 'opportunistic', seen: { failure?: TlsOutcomeFailure }): Promise<AttemptResult> {
  const relay = opts.path ? `unix:${opts.path}` : `${opts.host}[${opts.host}]:${opts.port}`;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const all = (status: 'deferred' | 'bounced', response: string, code?: number) => allRecipients(opts, relay, status, response, code);
  const key = `${opts.lmtp ? 'lmtp' : 'smtp'}|${opts.path ? `unix:${opts.path}` : `${opts.host}|${opts.port}`}|${opts.heloName}|${starttls}|${opts.tls?.id ?? ''}`;
  // a TLS policy's failure: counted always; when it requires TLS, nothing is sent in clear (451 4.7.5)
  const tlsFailed = (f: TlsOutcomeFailure): SmtpSendResult | undefined => {
    seen.failure = f;
    return opts.tls?.required ? { results: all('deferred', `451 4.7.5 TLS required by policy: ${f.detail}`.slice(0, 500), 451), tls: false } : undefined;
  };
  const cached = opts.reuse ? await cachedSession(key) : undefined;
  let r: Reply | undefined = cached?.ehlo;
  let conv = cached?.c;
  if (!conv) {
    let sock: Socket;
    try {
      sock = await connectTcp(opts.path ? { path: opts.path } : { host: opts.host, port: opts.port }, Math.min(timeoutMs, 30_000));
    } catch (e) {
      return { results: all('deferred', `connect to ${opts.path ?? `${opts.host}:${opts.port}`}: ${(e as Error).message}`), tls: false };
    }
    conv = new Conversation(sock, timeoutMs);
  }
  const x: Exchange = { opts, conv, relay, stage: 'greeting', results: [], keep: false };
  try {
    if (!r) {
      const h = await hello(x, starttls, tlsFailed);
      if ('done' in h) return h.done;
      r = h.ehlo;
    }
    return await transaction(x, r);
  } catch (e) {
    // Lost mid-conversation: anything without a final answer is deferred (may duplicate, never lose).
    const answered = new Set(x.results.map((r) => r.recipient));
    const rest = all('deferred', `lost connection during ${x.stage}: ${(e as Error).message}`);
    return { results: [...x.results, ...rest.filter((r) => !answered.has(r.recipient))], tls: false };
  } finally {
    if (x.keep && r) putCached(key, conv, r);
    else conv.end();
  }
}
