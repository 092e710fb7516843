// The shared rate limits at the SMTP edge: a limit hit becomes Postfix's reply (smtpd.c) for MAIL, RCPT and AUTH.
// Trusts @moat/ratelimit (which never throws and fails open); the address is the session's (XCLIENT's when given).
import type { LimitName, RateLimiter, RateOutcome } from '@moat/ratelimit';
import { SmtpReply } from './hook.ts';
import type { MxMetrics } from './metrics.ts';

/**
 * Postfix's words where Postfix has the limit (smtpd.c: `450 4.7.1 Error: too much mail from %s`, `... too
 * many recipients from %s`, `... too many AUTH commands from %s`, naming the client address). The per-login
 * limits say the same of the login. AUTH failures answer as the per-node failure limit does (RFC 4954's
 * 454 4.7.0), so a client sees one limit whether one node or the cluster counted it.
 */
export function rateLimitReply(hit: Extract<RateOutcome, { ok: false }>): SmtpReply {
  const texts: Record<LimitName, string> = {
    smtpd_client_message_rate_limit: `4.7.1 Error: too much mail from ${hit.subject}`,
    sasl_user_message_rate_limit: `4.7.1 Error: too much mail from ${hit.subject}`,
    smtpd_client_recipient_rate_limit: `4.7.1 Error: too many recipients from ${hit.subject}`,
    sasl_user_recipient_rate_limit: `4.7.1 Error: too many recipients from ${hit.subject}`,
    smtpd_client_auth_rate_limit: `4.7.1 Error: too many AUTH commands from ${hit.subject}`,
    auth_failure_limit: '4.7.0 Too many failed authentication attempts, try again later',
  };
  // a login is the client's own words: keep it to one printable line
  const text = texts[hit.limit].replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
  return new SmtpReply(hit.limit === 'auth_failure_limit' ? 454 : 450, text);
}

export interface MxRateLimits {
  /** MAIL: throws the 450 when the client or the login is over its message limit. */
  mail(client: string, user: string | undefined): Promise<void>;
  /** RCPT: throws the 450 when the client or the login is over its recipient limit. */
  rcpt(client: string, user: string | undefined): Promise<void>;
  /** AUTH: the reply refusing it (smtp-server's auth result), or undefined to go on. */
  auth(client: string): Promise<{ message: string; responseCode: number } | undefined>;
  /** A failed AUTH, counted for every MX before the 535 goes out (the next AUTH, on any MX, sees it). */
  authFailed(client: string): Promise<void>;
}

/** One per listener: port 25 and submission are separate services, as anvil counts them. */
export function mxRateLimits(limiter: RateLimiter, metrics: MxMetrics, submission: boolean): MxRateLimits {
  const service = submission ? 'submission' : 'smtp';
  const refuse = async (stage: 'mail' | 'rcpt', outcome: Promise<RateOutcome>) => {
    const o = await outcome;
    if (o.ok) return;
    const reply = rateLimitReply(o);
    metrics.rejects.inc({ stage, restriction: o.limit, code: String(reply.responseCode) });
    throw reply;
  };
  return {
    mail: (client, user) => refuse('mail', limiter.mail({ client, user, service })),
    rcpt: (client, user) => refuse('rcpt', limiter.rcpt({ client, user, service })),
    async auth(client) {
      const o = await limiter.auth({ client, service });
      if (o.ok) return undefined;
      const reply = rateLimitReply(o);
      metrics.auth.inc({ result: 'rate-limited' });
      metrics.rejects.inc({ stage: 'auth', restriction: o.limit, code: String(reply.responseCode) });
      return { message: reply.message, responseCode: reply.responseCode };
    },
    authFailed: (client) => limiter.authFailed({ client, service }),
  };
}
