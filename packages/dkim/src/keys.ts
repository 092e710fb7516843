// DKIM keys: generating a key pair and writing the TXT record that publishes its public half.
// Trusts node:crypto; the private key never leaves the PEM it is written to.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type DkimKeyType = 'rsa' | 'ed25519';

export interface GeneratedKey {
  type: DkimKeyType;
  /** PKCS#8 PEM private key (what signing reads). */
  privateKeyPem: string;
  /** The `p=` value of the record. */
  publicKey: string;
}

/** RSA 2048 (the size RFC 8301 recommends and every verifier accepts) or Ed25519 (RFC 8463). */
export function generateDkimKey(type: DkimKeyType = 'rsa', bits = 2048): GeneratedKey {
  if (type === 'rsa' && (bits < 1024 || bits > 4096)) throw new Error(`RSA key size ${bits}: expected 1024..4096 (RFC 8301: at least 1024, 2048 recommended)`);
  const { privateKey } = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { type, privateKeyPem, publicKey: publicKeyValue(createPublicKey(privateKey)) };
}

/**
 * The `p=` value for a public key: RSA as base64 SubjectPublicKeyInfo (RFC 6376 3.6.1), Ed25519 as the
 * base64 of the raw 32-byte key (RFC 8463 4.2), not its SPKI wrapping.
 */
export function publicKeyValue(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'ed25519') return der.subarray(der.length - 32).toString('base64');
  if (key.asymmetricKeyType === 'rsa') return der.toString('base64');
  throw new Error(`DKIM key type ${key.asymmetricKeyType}: expected rsa or ed25519`);
}

/** The key type and `p=` value of a PEM private key (throws on anything else). */
export function describePrivateKey(pem: string): { type: DkimKeyType; publicKey: string } {
  const pub = createPublicKey(pem);
  const type = pub.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') throw new Error(`DKIM key type ${type}: expected rsa or ed25519`);
  return { type, publicKey: publicKeyValue(pub) };
}

export interface DkimRecord {
  /** `selector._domainkey.domain` */
  name: string;
  /** The record's text as one string. */
  value: string;
  /** The same text cut into DNS character-strings of at most 255 octets (what a zone file needs). */
  strings: string[];
  /** A zone-file line: `name. 3600 IN TXT ( "..." "..." )`. */
  zoneLine: string;
}

export function dkimRecord(domain: string, selector: string, key: { type: DkimKeyType; publicKey: string }): DkimRecord {
  const name = `${selector}._domainkey.${domain.toLowerCase().replace(/\.$/, '')}`;
  const value = `v=DKIM1; k=${key.type}; p=${key.publicKey}`;
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += 255) strings.push(value.slice(i, i + 255));
  return { name, value, strings, zoneLine: `${name}. 3600 IN TXT ( ${strings.map((s) => `"${s}"`).join(' ')} )` };
}

/** The tags of a DKIM key record (`v=DKIM1; k=rsa; p=...`), names lower-cased, whitespace removed. */
export function parseDkimRecord(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}
