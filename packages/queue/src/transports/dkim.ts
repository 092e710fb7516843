// DKIM signing for outbound mail of configured domains, with mailauth's dkimSign.
// Trusts the operator's keys; the message is ours to sign only when its From domain is configured.
import { dkimSign } from 'mailauth';

export interface DkimKey {
  /** d= : the domain this key signs for (matched against the From header's domain). */
  domain: string;
  selector: string;
  /** PEM private key (RSA or Ed25519). */
  privateKey: string;
  /** Default rsa-sha256 / ed25519-sha256 by key type. */
  algorithm?: string;
}

/** The domain of the (first) From header in the message's header block, lower-cased. */
export function fromDomain(message: Buffer): string | null {
  let end = message.indexOf('\r\n\r\n');
  if (end < 0) end = message.indexOf('\n\n');
  const head = message.subarray(0, end < 0 ? Math.min(message.length, 65536) : end).toString('latin1');
  const m = /^from:((?:.*)(?:\r?\n[ \t].*)*)/im.exec(head);
  if (!m) return null;
  const addr = /@([A-Za-z0-9.-]+)\s*>?\s*(?:[,;(]|$)/m.exec(m[1]!.replace(/\r?\n[ \t]/g, ' ').trim());
  return addr ? addr[1]!.toLowerCase().replace(/\.$/, '') : null;
}

/**
 * Sign when a key is configured for the From domain: returns the message with DKIM-Signature
 * prepended, or the message unchanged (no key, or signing failed: logged by the caller via `error`).
 */
export async function signIfConfigured(
  message: Buffer,
  keys: DkimKey[],
  signTime?: Date,
): Promise<{ message: Buffer; signedBy?: string; error?: string }> {
  const domain = fromDomain(message);
  if (!domain) return { message };
  const key = keys.find((k) => k.domain.toLowerCase() === domain);
  if (!key) return { message };
  const sig = {
    signingDomain: key.domain,
    selector: key.selector,
    privateKey: key.privateKey,
    canonicalization: 'relaxed/relaxed',
    ...(key.algorithm ? { algorithm: key.algorithm } : {}),
  };
  // mailauth reads the keys from signatureData (the top-level fields only satisfy its typings).
  const res = await dkimSign(message, { ...sig, signatureData: [sig], ...(signTime ? { signTime } : {}) });
  if (res.errors.length || !res.signatures) {
    return { message, error: res.errors.map((e) => e.err.message).join('; ') || 'no signature produced' };
  }
  return { message: Buffer.concat([Buffer.from(res.signatures, 'utf8'), message]), signedBy: `${key.domain}/${key.selector}` };
}
