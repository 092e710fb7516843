// Debian's pebble (Let's Encrypt's test ACME server) on loopback ports, validating against a resolver we started.
// Talks to 127.0.0.1 only: its DNS is the given test resolver, its HTTP-01 validations go to the given port.
import { request } from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestCa } from './certs.ts';
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from './process.ts';

export interface PebbleServer {
  directoryUrl: string;
  /** The CA of pebble's own HTTPS listener (for the ACME client to trust). */
  listenerCa: string;
  /** The root that signs the certificates pebble issues (changes at each start). */
  issuerRoot(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/** Start pebble: `dnsServer` is `127.0.0.1:port`; HTTP-01 validations connect to `httpPort` on the name's address. */
export async function startPebble(opts: { dnsServer: string; httpPort: number; env?: Record<string, string> }): Promise<PebbleServer> {
  const dir = await tmpDir('pebble');
  const ca = await createTestCa('pebble listener CA');
  const leaf = await ca.issue(['127.0.0.1', 'localhost']);
  await writeFile(join(dir.path, 'cert.pem'), leaf.cert);
  await writeFile(join(dir.path, 'key.pem'), leaf.key);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const mgmt = await freePort();
    const conf = {
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir.path, 'cert.pem'),
        privateKey: join(dir.path, 'key.pem'),
        httpPort: opts.httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    };
    await writeFile(join(dir.path, 'pebble.json'), JSON.stringify(conf));
    const env = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0', ...opts.env };
    const d: Daemon = spawnDaemon('pebble', ['-config', join(dir.path, 'pebble.json'), '-dnsserver', opts.dnsServer], { env });
    try {
      await waitForPort(port, '127.0.0.1', 15_000);
      await waitForPort(mgmt, '127.0.0.1', 15_000);
    } catch (err) {
      await d.stop();
      if (attempt < 2) continue;
      await dir.remove();
      throw new Error(`pebble did not start: ${String(err)}\n${d.output()}`);
    }
    return {
      directoryUrl: `https://127.0.0.1:${port}/dir`,
      listenerCa: ca.cert,
      issuerRoot: () =>
        new Promise((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: mgmt, path: '/roots/0', ca: ca.cert }, (res) => {
            let body = '';
            res.on('data', (c) => {
              body += c;
            });
            res.on('end', () => resolve(body));
          });
          req.on('error', reject);
          req.end();
        }),
      output: () => d.output(),
      async stop() {
        await d.stop();
        await dir.remove();
      },
    };
  }
}
