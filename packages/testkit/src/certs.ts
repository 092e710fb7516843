// Test certificates made with Debian's openssl: a private CA and leaf certificates it signs (or self-signed).
// For loopback TLS tests only; the keys live in a temp dir that is removed before returning.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tmpDir } from './process.ts';

const run = promisify(execFile);

export interface TestCert {
  key: string;
  cert: string;
}

export interface TestCa extends TestCert {
  /** A leaf for these DNS names or IP addresses (the first is the subject CN), signed by this CA; `key` reuses a key. */
  issue(names: string[], opts?: { key?: string }): Promise<TestCert>;
}

async function newKey(dir: string, name: string): Promise<string> {
  const file = join(dir, `${name}.key`);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  return readFile(file, 'utf8');
}

/** A self-signed certificate for these names (what moat's default certificate is like). */
export async function selfSignedCert(names: string[], opts: { key?: string } = {}): Promise<TestCert> {
  const dir = await tmpDir('cert');
  try {
    const key = opts.key ?? (await newKey(dir.path, 'leaf'));
    await writeFile(join(dir.path, 'leaf.key'), key);
    const san = names.map((n) => `DNS:${n}`).join(',');
    await run('openssl', ['req', '-x509', '-new', '-key', join(dir.path, 'leaf.key'), '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`, '-days', '30', '-out', join(dir.path, 'leaf.crt')]);
    return { key, cert: await readFile(join(dir.path, 'leaf.crt'), 'utf8') };
  } finally {
    await dir.remove();
  }
}

/** A new CA (EC P-256, 30 days) that can issue leaf certificates. */
export async function createTestCa(name = 'moat test CA'): Promise<TestCa> {
  const dir = await tmpDir('ca');
  let ca: TestCert;
  try {
    const key = await newKey(dir.path, 'ca');
    await run('openssl', ['req', '-x509', '-new', '-key', join(dir.path, 'ca.key'), '-subj', `/CN=${name}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', join(dir.path, 'ca.crt')]);
    ca = { key, cert: await readFile(join(dir.path, 'ca.crt'), 'utf8') };
  } finally {
    await dir.remove();
  }
  return {
    ...ca,
    async issue(names, opts = {}) {
      const d = await tmpDir('leaf');
      try {
        await writeFile(join(d.path, 'ca.key'), ca.key);
        await writeFile(join(d.path, 'ca.crt'), ca.cert);
        const key = opts.key ?? (await newKey(d.path, 'leaf'));
        await writeFile(join(d.path, 'leaf.key'), key);
        await run('openssl', ['req', '-new', '-key', join(d.path, 'leaf.key'), '-subj', `/CN=${names[0]}`, '-out', join(d.path, 'leaf.csr')]);
        await writeFile(join(d.path, 'ext'), `subjectAltName=${names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}\nextendedKeyUsage=serverAuth\n`);
        await run('openssl', ['x509', '-req', '-in', join(d.path, 'leaf.csr'), '-CA', join(d.path, 'ca.crt'), '-CAkey', join(d.path, 'ca.key'), '-CAcreateserial', '-days', '30', '-extfile', join(d.path, 'ext'), '-out', join(d.path, 'leaf.crt')]);
        return { key, cert: await readFile(join(d.path, 'leaf.crt'), 'utf8') };
      } finally {
        await d.remove();
      }
    },
  };
}
