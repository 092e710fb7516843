// Which queued messages are ours to DKIM-sign: a signature vouches for the mail, so only mail the gateway
// marked (a login that passed the sender-login check, a mynetworks host) and our own DSNs. Trusts the envelope.
import type { Envelope } from './record.ts';

/** The mark the gateway writes in the envelope's meta (`dkim: sign`) on mail it may vouch for. */
export const DKIM_META_KEY = 'dkim';
export const DKIM_SIGN = 'sign';

/**
 * Whether the message may be DKIM-signed on its way out. Unmarked mail (the world's mail, an alias forwarding a
 * stranger's message to a remote address, or a file queued by an older moat) leaves unsigned.
 */
export function maySign(env: Pick<Envelope, 'meta' | 'kind'>): boolean {
  if (env.kind === 'bounce' || env.kind === 'delay') return true;
  return env.meta?.[DKIM_META_KEY] === DKIM_SIGN;
}
