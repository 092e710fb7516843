// The certificate authorities outbound TLS trusts for MTA-STS (RFC 8461 4.2: WebPKI): the system's store.
// Trusts the OS store (/etc/ssl/certs through Node) plus Node's bundled Mozilla list; tests pass their own CA.
import { getCACertificates } from 'node:tls';

let cached: string[] | undefined;

/** The system's CAs and Node's bundled list, deduplicated (read once). */
export function systemCas(): string[] {
  if (!cached) {
    let system: string[] = [];
    try {
      system = getCACertificates('system');
    } catch {
      // no readable system store (a minimal image): the bundled list still stands
    }
    cached = [...new Set([...system, ...getCACertificates('bundled')])];
  }
  return cached;
}
