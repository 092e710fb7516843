// Which transport and destination each pending recipient of a message goes to, in batches of the recipient limit.
// Trusts the next hops the gateway wrote into the queue file; a v1 file's local recipients are re-resolved.
import { queueRecipients } from '../final-recipient.ts';
import type { RecipientRecord } from '../record.ts';
import type { Claimed } from '../spool.ts';
import type { Transport } from '../transports/types.ts';
import type { RunnerContext } from './context.ts';

/** One delivery: a transport, its destination, and up to recipientLimit recipients. */
export type Batch = [Transport, string, string[]];

/**
 * A v1 recipient of the `local` route (queued before routing existed) goes where it resolves now,
 * when it resolves to exactly itself: older gateways queued remote addresses as local, and the
 * maildir no longer takes them. Anything else keeps the legacy local transport.
 */
function legacyHop(
  ctx: RunnerContext,
  env: Claimed['envelope'],
  address: string,
): (Pick<RecipientRecord, 'nextHop' | 'class'> & { nextHop: NonNullable<RecipientRecord['nextHop']> }) | undefined {
  const { opts } = ctx;
  if (!opts.resolver || !opts.router || env.route !== 'local') return undefined;
  const res = opts.resolver.resolve(address);
  if (!res.ok) return undefined;
  const [only, ...more] = queueRecipients(address, res);
  if (!only?.info.nextHop || more.length > 0 || only.address.toLowerCase() !== address.toLowerCase()) return undefined;
  return { nextHop: only.info.nextHop, class: only.info.class };
}

/**
 * The batches for a message's pending recipients, and their address extensions. A recipient without a
 * transport (no router or relay configured for it) is deferred here, in its record, and left out.
 */
export function planBatches(ctx: RunnerContext, c: Claimed, pending: RecipientRecord[]): { batches: Batch[]; extensions: Map<string, string> } {
  const { opts, clock, metrics, log } = ctx;
  const env = c.envelope;
  // Each recipient's transport: its next hop (envelope v2), else the envelope's route (v1).
  const byTransport = new Map<Transport, Map<string, string[]>>();
  const extensions = new Map<string, string>();
  for (const r of pending) {
    let transport: Transport | undefined;
    const hop = r.nextHop ? { nextHop: r.nextHop, class: r.class } : legacyHop(ctx, env, r.address);
    if (hop && opts.router) {
      // outbound mail is signed; a recipient of unknown class through an MX lookup is outbound (as v1's relay route)
      const sign = hop.class === 'remote' || (hop.class === undefined && hop.nextHop.transport === 'smtp' && hop.nextHop.mx);
      transport = opts.router.transportFor(hop.nextHop, sign);
    } else if (!r.nextHop) transport = env.route === 'relay' ? opts.transports.relay : opts.transports.local;
    if (!transport) {
      r.lastError = r.nextHop ? '451 4.3.5 no next-hop router configured' : '451 4.3.5 no relay transport configured';
      r.status = '4.3.5';
      metrics.deliveries.inc({ transport: r.nextHop?.transport ?? 'relay', result: 'deferred' });
      log.warn(
        { queueId: c.id, recipient: r.address, relay: 'none', status: 'deferred', delay: (clock.now() - env.arrival) / 1000, attempt: env.attempts, response: r.lastError },
        'delivery attempt',
      );
      continue;
    }
    if (r.extension) extensions.set(r.address, r.extension);
    const byDest = byTransport.get(transport) ?? new Map<string, string[]>();
    byTransport.set(transport, byDest);
    const d = transport.destination(r.address);
    byDest.set(d, [...(byDest.get(d) ?? []), r.address]);
  }
  const batches: Batch[] = [];
  for (const [transport, byDest] of byTransport) {
    for (const [dest, rcpts] of byDest) {
      for (let i = 0; i < rcpts.length; i += ctx.recipientLimit) batches.push([transport, dest, rcpts.slice(i, i + ctx.recipientLimit)]);
    }
  }
  return { batches, extensions };
}
