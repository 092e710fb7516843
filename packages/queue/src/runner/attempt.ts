// One delivery attempt of a claimed message: its batches delivered, results recorded per recipient, then the
// message settled (removed, bounced, warned about, deferred). Trusts the transports' per-recipient results only.
import { infoLine } from '@moat/observe';
import { maySign } from '../signable.ts';
import type { RecipientRecord } from '../record.ts';
import type { Claimed } from '../spool.ts';
import type { RecipientResult, Transport } from '../transports/types.ts';
import { sendDsn } from './bounces.ts';
import type { RunnerContext } from './context.ts';
import type { Destinations } from './destinations.ts';
import { type Batch, planBatches } from './plan.ts';
import { backoffFor, queuedSince } from './retry.ts';

/** A transport's results for every recipient it was given: a throw or a missing result defers (451 4.3.0). */
async function safeDeliver(ctx: RunnerContext, t: Transport, c: Claimed, recipients: string[], extensions: ReadonlyMap<string, string>): Promise<RecipientResult[]> {
  let results: RecipientResult[];
  try {
    results = await t.deliver({
      id: c.id,
      sender: c.envelope.sender,
      recipients,
      message: c.message,
      ...(extensions.size ? { extensions } : {}),
      ...(maySign(c.envelope) ? {} : { unsigned: true }),
    });
  } catch (e) {
    results = [];
    ctx.log.error({ queueId: c.id, transport: t.name, err: (e as Error).message }, 'transport threw');
  }
  const seen = new Set(results.map((r) => r.recipient));
  for (const r of recipients) {
    if (!seen.has(r)) {
      results.push({ recipient: r, status: 'deferred', code: 451, enhanced: '4.3.0', response: '451 4.3.0 transport gave no result', relay: t.name });
    }
  }
  return results;
}

/** Every batch delivered (within its destination's slots; a suspended destination's deferred at once). */
async function deliverBatches(ctx: RunnerContext, dests: Destinations, c: Claimed, batches: Batch[], extensions: Map<string, string>): Promise<[RecipientResult, Transport][]> {
  const all = await Promise.all(
    batches.map(async ([transport, dest, rcpts]) => {
      const release = await dests.acquire(dest);
      try {
        const dead = dests.suspended(dest);
        if (dead) {
          // Postfix's "delivery temporarily suspended": do not hammer a next hop that just failed.
          return rcpts.map(
            (recipient): [RecipientResult, Transport] => [
              { recipient, status: 'deferred', response: `delivery temporarily suspended: ${dead.reason}`, relay: dest },
              transport,
            ],
          );
        }
        const res = await safeDeliver(ctx, transport, c, rcpts, extensions);
        dests.record(dest, res);
        return res.map((r): [RecipientResult, Transport] => [r, transport]);
      } finally {
        release();
      }
    }),
  );
  return all.flat();
}

/** The results into the recipients' records, counted and logged; the recipients bounced now are added to `bouncedNow`. */
function recordResults(ctx: RunnerContext, c: Claimed, results: [RecipientResult, Transport][], bouncedNow: RecipientRecord[]): void {
  const { clock, metrics, log } = ctx;
  const env = c.envelope;
  const now = clock.now();
  for (const [res, transport] of results) {
    const rec = env.recipients.find((r) => r.address === res.recipient && r.state === 'pending');
    if (!rec) continue;
    rec.relay = res.relay;
    if (res.code !== undefined) rec.code = res.code;
    if (res.enhanced) rec.status = res.enhanced;
    else delete rec.status;
    rec.lastError = res.response.replace(/[\r\n]+/g, ' ').slice(0, 1000);
    if (res.status === 'sent') rec.state = 'sent';
    if (res.status === 'bounced') {
      rec.state = 'bounced';
      bouncedNow.push(rec);
    }
    metrics.deliveries.inc({ transport: transport.name, result: res.status });
    if (res.status !== 'deferred') metrics.latency.observe({ transport: transport.name }, Math.max(0, now - env.arrival) / 1000);
    if (res.alert) {
      metrics.alerts.inc({ transport: transport.name, reason: res.alert });
      log.error({ queueId: c.id, recipient: res.recipient, relay: res.relay, alert: res.alert, response: res.response }, 'delivery refused by configuration');
    }
    // the hot lines (one per recipient, one per message) through infoLine: pino's line, a quarter of its CPU
    infoLine(
      log,
      {
        queueId: c.id,
        recipient: res.recipient,
        original: rec.original || undefined,
        transport: transport.name,
        relay: res.relay,
        status: res.status,
        dsn: res.enhanced,
        delay: Math.max(0, now - env.arrival) / 1000,
        attempt: env.attempts,
        response: res.response,
      },
      'delivery attempt',
    );
  }
}

/** After the attempt: expired recipients bounced, DSNs queued, then the message removed or deferred with its next retry. */
async function settle(ctx: RunnerContext, c: Claimed, bouncedNow: RecipientRecord[], started: number): Promise<void> {
  const { queue, clock, log } = ctx;
  const env = c.envelope;
  const now = clock.now();
  let left = env.recipients.filter((r) => r.state === 'pending');
  if (left.length > 0 && now - queuedSince(env) >= ctx.maxLifetime) {
    for (const r of left) {
      r.state = 'bounced';
      r.status = r.status?.startsWith('4.') ? r.status : '4.4.7';
      r.lastError = `delivery time expired; last error: ${r.lastError ?? 'none'}`;
      bouncedNow.push(r);
      log.info({ queueId: c.id, recipient: r.address, status: 'expired', delay: (now - env.arrival) / 1000 }, 'giving up');
    }
    left = [];
  }
  // A DSN is durably queued before the original's new state is: a crash may duplicate it, never lose it.
  if (bouncedNow.length) await sendDsn(ctx, c, 'failed', bouncedNow, now);
  if (left.length === 0) {
    await queue.finish(c);
    infoLine(log, { queueId: c.id, attempts: env.attempts, ms: now - started }, 'removed');
    return;
  }
  env.lastError = left[left.length - 1]?.lastError;
  if (ctx.delayWarningAfter > 0 && !env.warned && now - queuedSince(env) >= ctx.delayWarningAfter) {
    await sendDsn(ctx, c, 'delayed', left, now);
    env.warned = true;
  }
  const next = now + backoffFor(env.attempts, ctx.firstBackoff, ctx.maxBackoff);
  await queue.defer(c, next);
  log.info({ queueId: c.id, pending: left.length, attempts: env.attempts, nextRetry: new Date(next).toISOString() }, 'deferred');
}

/** Deliver a claimed message once: every pending recipient tried, then the message settled. */
export async function deliverMessage(ctx: RunnerContext, dests: Destinations, c: Claimed): Promise<void> {
  const env = c.envelope;
  const started = ctx.clock.now();
  env.attempts++;
  const pending = env.recipients.filter((r) => r.state === 'pending');
  const bouncedNow: RecipientRecord[] = [];
  const { batches, extensions } = planBatches(ctx, c, pending);
  if (batches.length > 0) recordResults(ctx, c, await deliverBatches(ctx, dests, c, batches, extensions), bouncedNow);
  await settle(ctx, c, bouncedNow, started);
}
