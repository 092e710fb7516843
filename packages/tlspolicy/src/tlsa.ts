// TLSA records (RFC 6698) and the DANE-for-SMTP rules on them (RFC 7672): which are usable, does a chain match.
// Trusts the records only when the resolver validated them (the caller checks); the peer's chain is untrusted.
import { createHash, X509Certificate } from 'node:crypto';

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export function parseTlsa(rdata: Buffer): TlsaRecord | undefined {
  if (rdata.length < 4) return undefined;
  return { usage: rdata[0]!, selector: rdata[1]!, matchingType: rdata[2]!, data: Buffer.from(rdata.subarray(3)) };
}

/** `3 1 1 <hex>`, the form a zone file and `moat tls policy` print. */
export function formatTlsa(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

/**
 * RFC 7672 3.1: only DANE-TA(2) and DANE-EE(3) apply to SMTP; PKIX-TA(0)/PKIX-EE(1) are unusable, as are
 * unknown selectors and matching types. A secure RRset with none usable still means "TLS required".
 */
export function usable(r: TlsaRecord): boolean {
  return (r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) && r.matchingType <= 2;
}

/** The bytes a record's selector and matching type compare (selector 1: the SubjectPublicKeyInfo). */
export function associationData(der: Buffer, selector: number, matchingType: number): Buffer {
  const subject = selector === 1 ? (new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }) as Buffer) : der;
  if (matchingType === 1) return createHash('sha256').update(subject).digest();
  if (matchingType === 2) return createHash('sha512').update(subject).digest();
  return subject;
}

/** The 3 1 1 record for a certificate (PEM or DER): what a receiver publishes for its current key. */
export function tlsa311(cert: string | Buffer): TlsaRecord {
  const der = typeof cert === 'string' ? Buffer.from(new X509Certificate(cert).raw) : cert;
  return { usage: 3, selector: 1, matchingType: 1, data: associationData(der, 1, 1) };
}

function matches(r: TlsaRecord, der: Buffer): boolean {
  try {
    return associationData(der, r.selector, r.matchingType).equals(r.data);
  } catch {
    return false;
  }
}

/** Does `cert` name `host` (SAN dNSName, one leading wildcard label)? For DANE-TA, where names matter. */
function namesHost(cert: X509Certificate, hosts: string[]): boolean {
  return hosts.some((h) => cert.checkHost(h, { wildcards: true, singleLabelSubdomains: false }) !== undefined);
}

/**
 * Check a peer chain (leaf first, DER) against usable TLSA records. DANE-EE: the leaf matches, names and
 * dates ignored (RFC 7672 3.1.1). DANE-TA: a certificate of the chain matches and signs down to the leaf,
 * and the leaf names one of `hosts` (the MX host, then the next-hop domain; RFC 7672 3.2.2).
 * Returns undefined when it matches, else why not.
 */
export function checkChain(records: TlsaRecord[], chain: Buffer[], hosts: string[]): string | undefined {
  const use = records.filter(usable);
  const leaf = chain[0];
  if (!leaf) return 'no certificate presented';
  if (use.some((r) => r.usage === 3 && matches(r, leaf))) return undefined;
  const ta = use.filter((r) => r.usage === 2);
  if (ta.length) {
    let certs: X509Certificate[];
    try {
      certs = chain.map((d) => new X509Certificate(d));
    } catch {
      return 'unparseable certificate in the chain';
    }
    for (let i = 1; i < certs.length; i++) {
      if (!ta.some((r) => matches(r, chain[i]!))) continue;
      // every link from the leaf up to the matching certificate must be a real signature
      let ok = true;
      for (let j = 0; j < i && ok; j++) ok = !!certs[j]!.checkIssued(certs[j + 1]!) && certs[j]!.verify(certs[j + 1]!.publicKey);
      const now = Date.now();
      const inDate = certs.slice(0, i).every((c) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo));
      if (ok && inDate && namesHost(certs[0]!, hosts)) return undefined;
    }
  }
  return 'certificate matches no TLSA record';
}
