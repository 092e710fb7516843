// A transport spec as the admin writes it (queue.transport, queue.transports, transport_maps) into a NextHop.
// Trusts nothing in the text: a spec it cannot read is an error naming the spec, never a guess.
import type { NextHop } from '@moat/address';

/** `[host]`, `[host]:port`, `host`, `host:port` (IPv6 only in brackets, Postfix's `[ipv6:...]` too). */
function hostPort(s: string, defPort: number): { host: string; port: number; bracketed: boolean } | null {
  const m = /^\[(?:ipv6:)?([^\]]+)\](?::(\d{1,5}))?$/i.exec(s) ?? /^([^:[\]\s/]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return null;
  const port = m[2] ? Number(m[2]) : defPort;
  if (!(port > 0 && port < 65536)) return null;
  return { host: m[1]!, port, bracketed: s.startsWith('[') };
}

/**
 * Parse a next-hop spec. Postfix forms: `smtp:[host]:port` (no MX lookup), `smtp:host[:port]` (MX
 * lookup of host), `smtp:` (the recipient's domain by MX; `relay:` is the same), `lmtp:unix:/path`,
 * `lmtp:inet:host:port`, `lmtp:host:port`, `lmtp:[host]:port`, `maildir:/path`, `error:5.x.x text`,
 * `discard:[text]`. moat's older forms are kept: `smtp://host:port` and `lmtp://host:port` (no MX lookup).
 * Throws an Error naming the spec when it is not one of these.
 */
export function nextHopOf(spec: string): NextHop {
  const raw = spec.trim();
  const bad = (why: string) => new Error(`bad transport "${raw.slice(0, 200)}": ${why}`);
  const legacy = /^(smtp|lmtp):\/\/(\[[^\]]+\]|[^:/\s]+)(?::(\d{1,5}))?\/?$/.exec(raw);
  if (legacy) {
    const host = legacy[2]!.replace(/^\[|\]$/g, '');
    const port = legacy[3] ? Number(legacy[3]) : legacy[1] === 'lmtp' ? 24 : 25;
    if (!(port > 0 && port < 65536)) throw bad('port out of range');
    return legacy[1] === 'lmtp' ? { transport: 'lmtp', socket: { host, port }, raw } : { transport: 'smtp', host, port, mx: false, raw };
  }
  const colon = raw.indexOf(':');
  if (colon < 0) throw bad('expected transport:nexthop');
  const kind = raw.slice(0, colon).toLowerCase();
  const rest = raw.slice(colon + 1);
  switch (kind) {
    case 'smtp':
    case 'relay': {
      if (rest === '') return { transport: 'smtp', host: undefined, port: 25, mx: true, raw };
      const hp = hostPort(rest, 25);
      if (!hp) throw bad('expected smtp:[host]:port or smtp:host');
      return { transport: 'smtp', host: hp.host, port: hp.port, mx: !hp.bracketed, raw };
    }
    case 'lmtp': {
      if (/^unix:/i.test(rest)) {
        const path = rest.slice(5);
        if (!path.startsWith('/')) throw bad('the LMTP socket path must be absolute');
        return { transport: 'lmtp', socket: { path }, raw };
      }
      const hp = hostPort(rest.replace(/^inet:/i, ''), 24);
      if (!hp) throw bad('expected lmtp:unix:/path or lmtp:host:port');
      return { transport: 'lmtp', socket: { host: hp.host, port: hp.port }, raw };
    }
    case 'maildir': {
      if (!rest.startsWith('/') || rest.split('/').includes('..')) throw bad('the maildir root must be an absolute path');
      return { transport: 'maildir', path: rest, raw };
    }
    case 'error': {
      const m = /^([45]\.\d{1,3}\.\d{1,3})(?:\s+(.*))?$/.exec(rest);
      return m ? { transport: 'error', status: m[1]!, text: (m[2] ?? '').trim(), raw } : { transport: 'error', status: '5.0.0', text: rest.trim(), raw };
    }
    case 'discard':
      return { transport: 'discard', text: rest.trim(), raw };
    default:
      throw bad(`unknown transport ${kind}`);
  }
}
