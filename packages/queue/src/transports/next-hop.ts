// A transport spec as the admin writes it (queue.transport, queue.transports, transport_maps) into a NextHop.
// Trusts nothing in the text: a spec it cannot read is an error naming the spec, never a guess.
import { type NextHop, parseNextHop } from '@moat/address';

/**
 * Parse a next-hop spec with the address package's transport(5) reader (the one the SMTP side uses for the
 * same settings): `smtp:[host]:port` (no MX lookup), `smtp:host[:port]` (MX lookup of host), `smtp:` (the
 * recipient's domain by MX; `relay:` is the same), `lmtp:unix:/path`, `lmtp:inet:host:port`, `lmtp:host:port`,
 * `lmtp:[host]:port`, `maildir:/path`, `error:5.x.x text`, `discard:[text]`, and moat's older
 * `smtp://host:port` and `lmtp://host:port` (no MX lookup). The delivery side is stricter on two points: an
 * LMTP socket path must be absolute and a maildir root must not climb out with `..`. Throws an Error naming
 * the spec when it is not one of these.
 */
export function nextHopOf(spec: string): NextHop {
  const raw = spec.trim();
  const bad = (why: string) => new Error(`bad transport "${raw.slice(0, 200)}": ${why}`);
  let hop: NextHop;
  try {
    hop = parseNextHop(raw);
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (hop.transport === 'lmtp' && 'path' in hop.socket && !hop.socket.path.startsWith('/')) throw bad('the LMTP socket path must be absolute');
  if (hop.transport === 'maildir' && hop.path.split('/').includes('..')) throw bad('the maildir root must be an absolute path');
  return hop;
}
