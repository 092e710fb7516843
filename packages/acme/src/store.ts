// The ACME state directory: account key, the certificate's key (kept across renewals) and the full chain.
// Trusts its own directory (mode 0700); every file is replaced atomically (temp, fsync, rename), never half-written.
import { X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

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

export async function writeAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = file.slice(0, file.lastIndexOf('/')) || '.';
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
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
