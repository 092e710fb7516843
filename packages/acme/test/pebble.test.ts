// ACME against Debian's pebble on loopback: pebble resolves the names through a test Unbound and validates
// HTTP-01 against our responder. Issuance, renewal on the same key, and a failed renewal that keeps the old one.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createRegistry } from '@moat/observe';
import { freePort, startPebble, startUnbound, tmpDir, type PebbleServer, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertManager, describeCert, type Http01Responder, startHttp01 } from '../src/index.ts';

let dns: UnboundServer;
let pebble: PebbleServer;
let http01: Http01Responder;
let state: { path: string; remove(): Promise<void> };
const domains = ['mx.acme.test', 'submit.acme.test'];

beforeAll(async () => {
  dns = await startUnbound({
    stubZones: {},
    localZones: { 'acme.test': 'static' },
    localData: ['mx.acme.test. 60 IN A 127.0.0.1', 'submit.acme.test. 60 IN A 127.0.0.1'],
  });
  http01 = await startHttp01({ host: '127.0.0.1', port: await freePort() });
  pebble = await startPebble({ dnsServer: dns.server, httpPort: http01.port() });
  state = await tmpDir('acme');
});

afterAll(async () => {
  await http01?.close();
  await pebble?.stop();
  await dns?.stop();
  await state?.remove();
});

const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

describe('ACME (HTTP-01) against pebble', () => {
  it('issues a certificate for the MX and submission names, chained to pebble\'s root', async () => {
    const registry = createRegistry();
    const mgr = createCertManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.listenerCa, domains, stateDir: state.path, http01, registry, email: 'admin@acme.test' });
    expect(await mgr.renewIfDue()).toBe('issued');
    const chain = await readFile(mgr.files.cert, 'utf8');
    const info = describeCert(chain)!;
    expect(info.names.sort()).toEqual([...domains].sort());
    // leaf, then the intermediate, which pebble's root signed
    const certs = chain.split(/(?=-----BEGIN CERTIFICATE-----)/).map((p) => new X509Certificate(p));
    const root = new X509Certificate(await pebble.issuerRoot());
    expect(certs[0]!.verify(certs[1]!.publicKey)).toBe(true);
    expect(certs.at(-1)!.verify(root.publicKey)).toBe(true);
    // the certificate is for the key kept in privkey.pem
    const key = createPublicKey(await readFile(mgr.files.key, 'utf8')).export({ type: 'spki', format: 'der' }).toString('hex');
    expect(spki(chain)).toBe(key);
    const text = await registry.metrics();
    expect(text).toMatch(/moat_acme_orders_total\{result="issued"\} 1/);
    expect(Number(/^moat_tls_cert_expiry_days (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(1);
  });

  it('leaves a fresh certificate alone and renews one that is due, on the same key', async () => {
    const before = await readFile(join(state.path, 'fullchain.pem'), 'utf8');
    const fresh = createCertManager({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.listenerCa, domains, stateDir: state.path, http01 });
    expect(await fresh.renewIfDue()).toBe('fresh');
    // "due": renew when it expires within 100 years
    let seen = 0;
    const due = createCertManager({
      directoryUrl: pebble.directoryUrl,
      directoryCa: pebble.listenerCa,
      domains,
      stateDir: state.path,
      http01,
      renewBeforeMs: 100 * 365 * 86_400_000,
      onCertificate: () => {
        seen++;
      },
    });
    expect(await due.renewIfDue()).toBe('renewed');
    expect(seen).toBe(1);
    const after = await readFile(join(state.path, 'fullchain.pem'), 'utf8');
    expect(describeCert(after)!.serial).not.toBe(describeCert(before)!.serial);
    expect(spki(after)).toBe(spki(before)); // a TLSA 3 1 1 record stays valid
  });

  it('keeps the last good certificate when the ACME server answers garbage, and says so', async () => {
    const before = await readFile(join(state.path, 'fullchain.pem'), 'utf8');
    const port = await freePort();
    const garbage = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"newNonce": 42, "oops'));
    await new Promise<void>((r) => garbage.listen(port, '127.0.0.1', () => r()));
    try {
      const registry = createRegistry();
      const lines: Array<Record<string, unknown>> = [];
      const logger = { warn: (o: Record<string, unknown>) => lines.push(o), info: () => undefined } as never;
      const mgr = createCertManager({ directoryUrl: `http://127.0.0.1:${port}/dir`, domains, stateDir: state.path, http01, registry, logger, renewBeforeMs: 100 * 365 * 86_400_000 });
      expect(await mgr.renewIfDue()).toBe('failed');
      expect(await readFile(join(state.path, 'fullchain.pem'), 'utf8')).toBe(before);
      const text = await registry.metrics();
      expect(text).toMatch(/moat_acme_orders_total\{result="failed"\} 1/);
      expect(text).toMatch(/moat_acme_renewal_failing 1/);
      expect(Number(/^moat_tls_cert_expiry_days (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(1);
      expect(lines[0]).toMatchObject({ event: 'acme', result: 'failed' });
    } finally {
      await new Promise<void>((r) => garbage.close(() => r()));
    }
  });
});
