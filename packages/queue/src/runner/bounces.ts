// Delivery status notifications from the queue manager: where a DSN goes, and queuing it as new mail.
// Trusts the address resolver for the sender's mailbox; never sends a DSN to the null sender nor about a DSN.
import type { AddressResolver, Route } from '@moat/address';
import { buildDsn } from '../dsn.ts';
import { queueRecipients } from '../final-recipient.ts';
import type { RecipientRecord } from '../record.ts';
import type { Claimed } from '../spool.ts';
import type { RecipientInfo } from '../types.ts';
import type { RunnerContext } from './context.ts';
import { queuedSince } from './retry.ts';

type DsnRoute = { recipients: string[]; route: 'local' | 'relay'; recipientInfo?: Map<string, RecipientInfo>; nextHops?: string[] };

/**
 * Where a DSN to `sender` goes. With a resolver: the sender's final recipients and next hops (a local
 * sender's bounce is delivered locally, an alias's to its targets); a sender that does not exist
 * here gets none (Postfix would bounce the bounce to the double-bounce address, discarded by default);
 * a sender held by a `retry:` next hop gets its notice queued to that hop, deferred (qmgr to retry(8)); a lookup failure falls back to the route its class implies. Without a resolver: `bounceRoute`.
 */
function dsnRecipients(ctx: RunnerContext, queueId: string, sender: string): DsnRoute | null {
  const { opts, log } = ctx;
  if (!opts.resolver) return { recipients: [sender], route: ctx.bounceRoute };
  const res = opts.resolver.resolve(sender);
  if (res.ok) {
    // a sender that resolves to error: (an unknown user, as the resolver reports it) has no mailbox here
    const rcpts = queueRecipients(sender, res).filter((r) => r.info.nextHop?.transport !== 'error');
    if (rcpts.length > 0) {
      return {
        recipients: rcpts.map((r) => r.address),
        route: res.class === 'remote' ? 'relay' : 'local',
        recipientInfo: new Map(rcpts.map((r) => [r.address, r.info])),
        nextHops: rcpts.map((r) => r.info.nextHop?.raw ?? ''),
      };
    }
  }
  if (!res.ok && res.reason === 'retry') {
    // retry: refuses at RCPT only; a notice to such a sender is queued to retry(8) and deferred, as Postfix's qmgr does
    const held = retryRoute(ctx, opts.resolver, queueId, sender, res.class);
    if (held) return held;
  }
  if (!res.ok && res.reason === 'lookup-failure') {
    const route = res.class === 'remote' ? 'relay' : 'local';
    log.warn({ queueId, sender, route, reason: res.reason, status: res.status }, 'dsn recipient lookup failed; queued by address class');
    return { recipients: [sender], route };
  }
  log.info({ queueId, sender, reason: res.ok ? 'empty-expansion' : res.reason }, 'dsn not sent: the sender has no mailbox here');
  return null;
}

/**
 * The sender's own `retry:` next hop (trivial-rewrite's answer), so its notice waits in the queue; when the route
 * cannot be had, the route its class implies (as a lookup failure's notice goes); null if it is no longer retry:.
 */
function retryRoute(ctx: RunnerContext, resolver: Pick<AddressResolver, 'route'>, queueId: string, sender: string, cls: Route['class']): DsnRoute | null {
  let r: Route;
  try {
    r = resolver.route(sender);
  } catch (e) {
    const route = cls === 'remote' ? 'relay' : 'local';
    ctx.log.warn({ queueId, sender, route, err: (e as Error).message }, 'dsn recipient route failed; queued by address class');
    return { recipients: [sender], route };
  }
  if (r.nextHop.transport !== 'retry') return null;
  return {
    recipients: [sender],
    route: r.class === 'remote' ? 'relay' : 'local',
    recipientInfo: new Map([[sender, { nextHop: r.nextHop, class: r.class }]]),
    nextHops: [r.nextHop.raw],
  };
}

/** Build a DSN about `recipients` of a claimed message and queue it (durably, before the original's new state). */
export async function sendDsn(ctx: RunnerContext, c: Claimed, kind: 'failed' | 'delayed', recipients: RecipientRecord[], now: number): Promise<void> {
  const { queue, metrics, log } = ctx;
  const env = c.envelope;
  if (env.sender === '' || env.kind !== 'mail') {
    // Never a DSN to the null sender (RFC 5321 6.1) nor about a DSN: that way lie mail loops.
    metrics.bounces.inc({ kind: 'dropped' });
    log.info({ queueId: c.id, dsn: kind, nrcpt: recipients.length, reason: env.sender === '' ? 'null sender' : 'message is a DSN' }, 'dsn not sent');
    return;
  }
  const message = buildDsn({
    kind,
    hostname: ctx.hostname,
    bounceFrom: ctx.bounceFrom,
    envelope: env,
    message: c.message,
    recipients,
    now,
    willRetryUntil: queuedSince(env) + ctx.maxLifetime,
  });
  const to = dsnRecipients(ctx, c.id, env.sender);
  if (!to) {
    metrics.bounces.inc({ kind: 'dropped' });
    return;
  }
  const { id } = await queue.enqueue(
    { sender: '', message, meta: { 'dsn-for': c.id }, ...to },
    { kind: kind === 'failed' ? 'bounce' : 'delay' },
  );
  metrics.bounces.inc({ kind });
  log.info(
    { queueId: c.id, dsn: kind, dsnQueueId: id, sender: env.sender, nrcpt: recipients.length, to: to.recipients, route: to.route, nextHop: to.nextHops },
    'dsn queued',
  );
}
