// transport(5) right-hand sides (`transport:nexthop`) parsed into moat's NextHop, plus moat's legacy URL forms.
// The text is admin input (config, transport_maps files): bad text throws a NextHopError naming the problem.
import { UNDELIVERABLE } from './error-hop.ts';
import type { NextHop } from './types.ts';

/** A transport or next hop moat cannot use; `text` is what the admin wrote. */
export class NextHopError extends Error {
  readonly code = 'NEXTHOP_SYNTAX';
  readonly text: string;
  constructor(text: string, problem: string) {
    super(`next hop ${JSON.stringify(text)}: ${problem}`);
    this.name = 'NextHopError';
    this.text = text;
  }
}

const PORTS: Readonly<Record<string, number>> = { smtp: 25, lmtp: 24, submission: 587, smtps: 465, submissions: 465 };
const HOST = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;

/** The transport names moat delivers with itself. `relay` is Postfix's smtp clone for relay_domains. */
export const TRANSPORT_NAMES = ['smtp', 'relay', 'lmtp', 'maildir', 'error', 'retry', 'discard'] as const;

/**
 * Parses `transport:nexthop` as transport(5) and the delivery agents read it:
 * `smtp:[host]:port` (no MX lookup), `smtp:host[:port]` (MX lookup), `smtp:` (the recipient domain),
 * `relay:` (as smtp), `lmtp:unix:/path`, `lmtp:inet:host:port`, `lmtp:host:port`, `lmtp:[host]:port`,
 * `maildir:/path`, `error:5.x.x text`, `error:text`, `retry:4.x.x text`, `discard:[text]`; and moat's older
 * `smtp://host:port`, `lmtp://host:port` (queue.transport). Throws NextHopError.
 */
export function parseNextHop(text: string): NextHop {
  const raw = text;
  const t = text.trim();
  const legacy = /^(smtp|lmtp):\/\/(.+)$/i.exec(t);
  if (legacy) {
    const { host, port } = hostPort(raw, legacy[2] as string, undefined);
    if (port === undefined) throw new NextHopError(raw, 'the URL form needs a port (smtp://host:port)');
    // moat's own form, no Postfix key to follow: keyed as the bracketed [host]:port it means
    const dest = `[${host}]:${port}`;
    return (legacy[1] as string).toLowerCase() === 'smtp' ? { transport: 'smtp', host, port, mx: false, raw, dest } : { transport: 'lmtp', socket: { host, port }, raw, dest };
  }
  const colon = t.indexOf(':');
  const name = (colon < 0 ? t : t.slice(0, colon)).toLowerCase();
  const hop = colon < 0 ? '' : t.slice(colon + 1);
  switch (name) {
    case 'smtp':
    case 'relay':
      return smtpHop(raw, hop);
    case 'lmtp':
      return lmtpHop(raw, hop);
    case 'maildir': {
      if (!hop.startsWith('/')) throw new NextHopError(raw, 'maildir: needs an absolute path (maildir:/var/mail/moat)');
      return { transport: 'maildir', path: hop, raw };
    }
    case 'error':
    case 'retry': {
      // dsn_split: an optional RFC 3463 status (class 2, 4 or 5, as Postfix accepts it) before free text. What the
      // status means is the edge's business (error-hop.ts: refusal at RCPT, bounce or deferral at delivery).
      const m = /^\s*([245]\.\d{1,3}\.\d{1,3})(?:\s+(.*))?$/s.exec(hop);
      const text = (m ? (m[2] ?? '') : hop).trim();
      return { transport: name, ...(m ? { status: m[1] as string } : {}), text: text === '' ? UNDELIVERABLE : text, raw };
    }
    case 'discard':
      return { transport: 'discard', text: hop.trim(), raw };
    case '':
      throw new NextHopError(raw, 'no transport name (expected e.g. smtp:[host]:25, lmtp:unix:/path, maildir:/path, error:5.1.1 text)');
    case 'local':
    case 'virtual':
      throw new NextHopError(raw, `Postfix's ${name}(8) is not part of moat: use maildir:/path or lmtp: (or leave ${name}_transport unset for queue.transport)`);
    default:
      throw new NextHopError(raw, `unknown transport ${JSON.stringify(name)} (moat delivers with smtp, relay, lmtp, maildir, error, retry, discard)`);
  }
}

function smtpHop(raw: string, hop: string): NextHop {
  if (hop === '') return { transport: 'smtp', host: undefined, port: 25, mx: true, raw };
  if (hop.includes(',') || /\s/.test(hop.trim())) throw new NextHopError(raw, 'several next hops are not supported (one destination per entry)');
  if (/^(inet|unix):/i.test(hop)) throw new NextHopError(raw, 'smtp: takes [host]:port or host:port, not a socket type');
  const bracketed = hop.startsWith('[');
  const { host, port } = hostPort(raw, hop, 25);
  return { transport: 'smtp', host, port: port ?? 25, mx: !bracketed, raw, dest: hop.trim() };
}

function lmtpHop(raw: string, hop: string): NextHop {
  if (hop === '') throw new NextHopError(raw, 'lmtp: needs a destination (lmtp:unix:/path, lmtp:inet:host:port, lmtp:host:port)');
  const unix = /^unix:(.+)$/i.exec(hop);
  if (unix) return { transport: 'lmtp', socket: { path: unix[1] as string }, raw };
  const rest = hop.replace(/^inet:/i, '');
  const { host, port } = hostPort(raw, rest, 24);
  return { transport: 'lmtp', socket: { host, port: port ?? 24 }, raw, dest: rest.trim() };
}

/** `host`, `host:port`, `[host]`, `[host]:port`, `[ipv6:addr]:port`; the port a number or a service name. */
function hostPort(raw: string, s: string, defaultPort: number | undefined): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw new NextHopError(raw, 'unclosed [ in the next hop');
    host = s.slice(1, close).replace(/^ipv6:/i, '');
    const after = s.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new NextHopError(raw, `unexpected ${JSON.stringify(after)} after ]`);
    portText = after === '' ? undefined : after.slice(1);
    if (!(IPV4.test(host) || IPV6.test(host) || HOST.test(host))) throw new NextHopError(raw, `${JSON.stringify(host)} is not a host name or IP address`);
  } else {
    const c = s.lastIndexOf(':');
    if (c >= 0 && s.indexOf(':') !== c) throw new NextHopError(raw, 'an IPv6 address must be written in brackets ([ipv6:2001:db8::1]:25)');
    host = c < 0 ? s : s.slice(0, c);
    portText = c < 0 ? undefined : s.slice(c + 1);
    if (!(IPV4.test(host) || HOST.test(host))) throw new NextHopError(raw, `${JSON.stringify(host)} is not a host name or IP address`);
  }
  if (portText === undefined) return { host, port: defaultPort };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : PORTS[portText.toLowerCase()];
  if (port === undefined || port < 1 || port > 65535) throw new NextHopError(raw, `${JSON.stringify(portText)} is not a port (1-65535 or smtp, lmtp, submission)`);
  return { host, port };
}
