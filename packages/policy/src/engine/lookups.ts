// Questions several restrictions ask, answered once per decision: is the client ours, what is the recipient.
// Trusts the recipient port's answer; a port failure is a temporary error, never an accept or a reject.
import { cidrContains } from '../ip.ts';
import type { RecipientClass } from '../types.ts';
import { type Ctx, type Result, type Wait, wait } from './context.ts';

/** Whether the client is in mynetworks; asked by both lists, computed once. */
export function inMyNetworks(ctx: Ctx): boolean {
  if (ctx.inMyNets !== 0) return ctx.inMyNets === 1;
  const a = ctx.client;
  const networks = ctx.env.networks;
  let yes = false;
  if (a) {
    for (let i = 0; i < networks.length; i++) {
      if (cidrContains(networks[i]!, a)) {
        yes = true;
        break;
      }
    }
  }
  ctx.inMyNets = yes ? 1 : 2;
  return yes;
}

/**
 * The recipient's class, then `f` of it. A bare `postmaster` (RFC 5321 4.5.1: it must be accepted)
 * is always ours; the only domain-less form let through. Asked once per decision; later
 * restrictions (and the relay safety net) reuse the answer.
 */
export function withClass(ctx: Ctx, f: (cls: RecipientClass) => Result | Wait): Result | Wait {
  if (ctx.rcptClass !== undefined) return f(ctx.rcptClass);
  const rcpt = ctx.facts.recipient!;
  if (!rcpt.includes('@')) return f((ctx.rcptClass = 'local'));
  const env = ctx.env;
  if (env.classifySync) {
    let cls: RecipientClass;
    try {
      cls = env.classifySync(rcpt);
    } catch (e) {
      return directoryFailed(ctx, e);
    }
    return f((ctx.rcptClass = cls));
  }
  let pending: Promise<RecipientClass>;
  try {
    pending = env.ports.recipients.classify(rcpt);
  } catch (e) {
    return directoryFailed(ctx, e);
  }
  return wait(pending, (cls) => f((ctx.rcptClass = cls)), (e) => directoryFailed(ctx, e));
}

/** Postfix: a table lookup failure is a temporary error (451 4.3.0), never an accept or a reject. */
export function directoryFailed(ctx: Ctx, e: unknown): Result {
  return {
    outcome: 'defer',
    status: '4.3.0',
    subject: { name: String(ctx.facts.recipient), context: 'Recipient address rejected' },
    text: 'Temporary lookup failure',
    reason: `recipient directory: ${(e as Error)?.message ?? String(e)}`,
    smtpCode: 451,
  };
}

/**
 * Another address's class (the sender's, for reject_unlisted_sender and the unknown-domain checks),
 * then `f` of it. Not cached: asked at most once or twice a decision. A failure is `failed(e)`.
 */
export function classifyOther(ctx: Ctx, address: string, f: (cls: RecipientClass) => Result | Wait, failed: (e: unknown) => Result): Result | Wait {
  const env = ctx.env;
  if (env.classifySync) {
    let cls: RecipientClass;
    try {
      cls = env.classifySync(address);
    } catch (e) {
      return failed(e);
    }
    return f(cls);
  }
  let pending: Promise<RecipientClass>;
  try {
    pending = env.ports.recipients.classify(address);
  } catch (e) {
    return failed(e);
  }
  return wait(pending, f, failed);
}

/** Postfix reject_dict_retry: `451 4.3.0 <address>: Temporary lookup failure`. */
export function lookupFailed(address: string, what: string, e: unknown): Result {
  return { outcome: 'defer', status: '4.3.0', text: `<${address}>: Temporary lookup failure`, reason: `${what}: ${(e as Error)?.message ?? String(e)}`, smtpCode: 451 };
}
