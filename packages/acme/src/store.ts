// The ACME state directory: account key, the certificate's key (kept across renewals) and the full chain.
// Trusts its own directory (mode 0700); every file is replaced atomically (temp, fsync, rename), never half-written.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@moat/files';

export interface CertFiles {
  dir: string;
  accountKey: string;
  /** The account's URL at the CA, once registered. */
  accountUrl: string;
  key: string;
  cert: string;
}

export function certFiles(dir: string): CertFiles {
  return { dir, accountKey: join(dir, 'account.key'), accountUrl: join(dir, 'account.url'), key: join(dir, 'privkey.pem'), cert: join(dir, 'fullchain.pem') };
}

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A state file replaced atomically (temp, fsync, rename, fsync the directory); the directory made 0700 if missing. */
export async function writeAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  await writeFileAtomic(file, data, { mode, dirMode: 0o700 });
}

/** The leaf's expiry and names, or undefined when the file is missing or not a certificate. */
export function describeCert(pem: string | undefined): { notAfter: number; notBefore: number; serial: string; names: string[] } | undefined {
  if (!pem) return undefined;
  try {
    const c = new X509Certificate(pem);
    const names = (c.subjectAltName ?? '').split(/,\s*/).flatMap((s) => (s.startsWith('DNS:') ? [s.slice(4)] : []));
    return { notAfter: Date.parse(c.validTo), notBefore: Date.parse(c.validFrom), serial: c.serialNumber, names };
  } catch {
    return undefined;
  }
}
