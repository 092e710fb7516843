// The Received header we put on every accepted message (RFC 5321 4.4), with TLS and client-cert details.
// Every client-supplied value in it (HELO, names, cert fields) is untrusted: reduced to printable ASCII.
import type { TlsSessionInfo } from './tls.ts';

export interface ReceivedInput {
  helo: string;
  clientAddress: string;
  /** Verified client name; `unknown` when it did not verify (Postfix's wording). */
  clientName?: string | undefined;
  byHost: string;
  /** ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848). */
  protocol: string;
  id: string;
  tls?: TlsSessionInfo | undefined;
  /** Only with a single recipient (as Postfix does), so a Bcc is not revealed. */
  recipient?: string | undefined;
  date?: Date | undefined;
}

const safe = (s: string, max = 255) => s.replace(/[^\x21-\x7e]/g, '?').replace(/[()\\]/g, '?').slice(0, max);

/** RFC 5322 date-time, e.g. `Tue, 24 Nov 2026 11:03:12 +0000`. */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** One header line with folding (CRLF + TAB), without the trailing CRLF. */
export function receivedHeader(r: ReceivedInput): string {
  const addr = r.clientAddress.includes(':') ? `IPv6:${r.clientAddress}` : r.clientAddress;
  const lines = [`Received: from ${safe(r.helo)} (${safe(r.clientName ?? 'unknown')} [${safe(addr, 60)}])`];
  if (r.tls) {
    const bits = r.tls.bits ? ` (${r.tls.bits} bits)` : '';
    lines.push(`(using ${safe(r.tls.version, 20)} with cipher ${safe(r.tls.cipher, 80)}${bits})`);
    if (r.tls.clientCertSubject !== undefined) {
      const issuer = r.tls.clientCertIssuer !== undefined ? `, Issuer "${safe(r.tls.clientCertIssuer, 120)}"` : '';
      const verified = r.tls.clientCertVerified ? 'verified' : 'not verified';
      lines.push(`(Client CN "${safe(r.tls.clientCertSubject, 120)}"${issuer} (${verified}))`);
    }
  }
  lines.push(`by ${safe(r.byHost)} (moat) with ${safe(r.protocol, 10)} id ${safe(r.id, 64)}`);
  const date = rfc5322Date(r.date ?? new Date());
  if (r.recipient) lines.push(`for <${safe(r.recipient, 300)}>; ${date}`);
  else lines[lines.length - 1] += `; ${date}`;
  return lines.join('\r\n\t');
}
