// One greylist decision: whitelists, the sender identity, the decide script in Redis, its reply as an answer.
// Trusts Redis and the configured resolver; the request's fields are what a remote client said.
import type { ClockPort, GreylistAnswer, GreylistRequest } from '@moat/policy';
import type { AdminContext } from './admin.ts';
import { greylistHeader } from './header.ts';
import { type Identity, senderIdentity } from './identity.ts';
import { awlKey, tripletKey } from './keys.ts';
import type { GreylistMetrics } from './metrics.ts';
import { normalizeRecipient, normalizeSender } from './normalize.ts';
import type { DecideReply } from './store.ts';
import type { Whitelist } from './whitelist.ts';

/** The decide script's timings, in the seconds it counts. */
export interface DecideTimings {
  delay: number;
  retryWindow: number;
  confirmedTtl: number;
  /** Counted deliveries before an identity is auto-whitelisted (0 = off). */
  awlN: number;
  awlTtl: number;
  awlGap: number;
}

export interface DecideContext extends AdminContext {
  timings: DecideTimings;
  whitelist: Whitelist;
  metrics: GreylistMetrics;
  clock: ClockPort | undefined;
  /** Host named in the X-Greylist header. */
  host: string;
}

export interface Decision {
  answer: GreylistAnswer;
  identity?: Identity;
}

/** The answer when the store cannot decide: pass, counted. */
export function failOpen(metrics: GreylistMetrics, why: string): GreylistAnswer {
  metrics.failOpen.inc();
  return { action: 'pass', reason: 'fail-open', detail: `greylist store unavailable (${why}): accepted without greylisting` };
}

/** The decision; `dry` (peek) writes nothing, counts nothing and lets store errors through. */
export async function decide(ctx: DecideContext, request: GreylistRequest, dry = false): Promise<Decision> {
  const { metrics, timings: t, prefix } = ctx;
  const sender = normalizeSender(request.sender ?? '');
  const recipient = normalizeRecipient(request.recipient ?? '');
  const hit = ctx.whitelist.match({ clientAddress: request.clientAddress, clientName: request.clientName, recipient });
  if (hit) return { answer: { action: 'pass', reason: 'whitelist', detail: `whitelisted ${hit.kind} ${hit.entry}` } };
  if (ctx.adminWhitelist.has(request.clientAddress)) {
    return { answer: { action: 'pass', reason: 'whitelist', detail: 'whitelisted client (admin)' } };
  }
  const found = senderIdentity({ clientAddress: request.clientAddress, clientName: request.clientName, sender: request.sender ?? '' }, ctx.identityOptions);
  const identity = found instanceof Promise ? await found : found;
  if (!dry) {
    metrics.identity.inc({ kind: identity.kind });
    if (identity.spf) metrics.spf.inc({ result: identity.spf.result });
  }
  const now = ctx.clock ? String(Math.floor(ctx.clock.now() / 1000)) : '';
  let reply: DecideReply;
  try {
    reply = await (dry ? ctx.store.peek : ctx.store.decide)(tripletKey(prefix, identity.id, sender, recipient), awlKey(prefix, identity.id), [
      now,
      t.delay,
      t.retryWindow,
      t.confirmedTtl,
      t.awlN,
      t.awlTtl,
      t.awlGap,
      sender,
      recipient,
      request.clientAddress.slice(0, 64),
      (request.clientName ?? '').slice(0, 255),
    ]);
  } catch (e) {
    if (dry) throw e;
    return { answer: failOpen(metrics, (e as { code?: string }).code ?? 'error'), identity };
  }
  return { answer: toAnswer(reply, identity, ctx.host, dry ? undefined : metrics), identity };
}

/** The script's reply as the engine's answer; `metrics` absent for a dry run. */
function toAnswer(reply: DecideReply, identity: Identity, host: string, metrics: GreylistMetrics | undefined): GreylistAnswer {
  switch (reply.action) {
    case 'defer':
      return { action: 'defer', retryAfter: reply.seconds, detail: `Greylisted, please retry in ${reply.seconds} seconds` };
    case 'retry':
      metrics?.delay.observe(reply.seconds);
      return {
        action: 'pass',
        reason: 'retry',
        header: greylistHeader(reply.seconds, host, reply.now),
        detail: `delayed ${reply.seconds} seconds (${reply.attempts} attempts, ${identity.id})`,
      };
    case 'known':
      return { action: 'pass', reason: 'known', detail: `known triplet (${identity.id})` };
    case 'awl':
      return { action: 'pass', reason: 'auto-whitelist', detail: `auto-whitelisted after ${reply.seconds} deliveries (${identity.id})` };
  }
}
