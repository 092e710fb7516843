// DKIM signing of outbound mail by a signing table (OpenDKIM's SigningTable idea), with mailauth's dkimSign.
// Trusts the operator's keys; the message is signed only when its From address matches a table entry.

/**
 * mailauth's signer alone (the package root also loads BIMI: an HTTP client, an XML parser), and only when a
 * message is first signed: it brings joi, libmime and its charset tables, which a host without DKIM keys
 * (or before its first outbound message) never needs in memory.
 */
let signer: Promise<typeof import('mailauth/lib/dkim/sign.js')> | undefined;
// CommonJS: its module.exports is the default export (a bundle split into chunks gives nothing else)
const loadSigner = () => (signer ??= import('mailauth/lib/dkim/sign.js').then((m) => m.default));

export interface DkimKey {
  /** d= : the domain the signature claims. */
  domain: string;
  selector: string;
  /** PEM private key (RSA or Ed25519). */
  privateKey: string;
  /** Default rsa-sha256 / ed25519-sha256 by key type. */
  algorithm?: string | undefined;
  /**
   * Which From addresses the key signs (the signing table's left side): `alice@example.org`,
   * `*@example.org` or `example.org` (that domain), `*.example.org` (its subdomains). Default: `domain`.
   */
  match?: string | undefined;
}

/** The (first) From header's address in the message's header block, lower-cased, or null. */
export function fromAddress(message: Buffer): string | null {
  let end = message.indexOf('\r\n\r\n');
  if (end < 0) end = message.indexOf('\n\n');
  const head = message.subarray(0, end < 0 ? Math.min(message.length, 65536) : end).toString('latin1');
  const m = /^from:((?:.*)(?:\r?\n[ \t].*)*)/im.exec(head);
  if (!m) return null;
  const value = m[1]!.replace(/\r?\n[ \t]/g, ' ').trim();
  const addr = /<([^<>@\s]+@[A-Za-z0-9.-]+)>/.exec(value) ?? /([^\s<>,;:"()]+@[A-Za-z0-9.-]+)\s*(?:[,;(]|$)/.exec(value);
  return addr ? addr[1]!.toLowerCase().replace(/\.$/, '') : null;
}

/** The domain of the From address, lower-cased. */
export function fromDomain(message: Buffer): string | null {
  const a = fromAddress(message);
  return a ? a.slice(a.lastIndexOf('@') + 1) : null;
}

/** Whether a signing-table pattern covers a From address. */
export function matchesFrom(pattern: string, address: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  if (p.startsWith('*@')) return domain === p.slice(2);
  if (p.startsWith('*.')) return domain.endsWith(p.slice(1));
  if (p.includes('@')) return address === p;
  return domain === p;
}

/** The keys that sign mail from `address`: every entry that matches (two selectors during a rotation). */
export function keysFor(address: string, keys: readonly DkimKey[]): DkimKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    if (!matchesFrom(k.match ?? k.domain, address)) return false;
    const id = `${k.domain.toLowerCase()}/${k.selector}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/**
 * Signs with every key the signing table gives the From address: returns the message with the
 * DKIM-Signature fields prepended, or unchanged (no entry, or signing failed: `error` for the caller's log).
 */
export async function signIfConfigured(
  message: Buffer,
  keys: readonly DkimKey[],
  signTime?: Date,
): Promise<{ message: Buffer; signedBy?: string; error?: string }> {
  const from = fromAddress(message);
  if (!from) return { message };
  const use = keysFor(from, keys);
  if (use.length === 0) return { message };
  const data = use.map((key) => ({
    signingDomain: key.domain,
    selector: key.selector,
    privateKey: key.privateKey,
    canonicalization: 'relaxed/relaxed',
    ...(key.algorithm ? { algorithm: key.algorithm } : {}),
  }));
  // mailauth reads the keys from signatureData (the top-level fields only satisfy its typings).
  const { dkimSign } = await loadSigner();
  const res = await dkimSign(message, { ...data[0]!, signatureData: data, ...(signTime ? { signTime } : {}) });
  if (res.errors.length || !res.signatures) {
    return { message, error: res.errors.map((e) => e.err.message).join('; ') || 'no signature produced' };
  }
  return { message: Buffer.concat([Buffer.from(res.signatures, 'utf8'), message]), signedBy: use.map((k) => `${k.domain}/${k.selector}`).join(',') };
}
