// ACME for the gateway: runs the certificate manager (HTTP-01 responder, renewals) and hands new pairs to the listeners.
// Trusts its own state directory; the ACME server's answers never reach here, only files the manager wrote.
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { type CertFiles, createCertManager, describeCert, startHttp01 } from '@moat/acme';
import { type Config, parseHostPort } from '@moat/config';
import type { Logger, Registry } from '@moat/observe';

export interface AcmeRuntime {
  /** The pair on disk now, or undefined before the first issuance (mx starts on the self-signed one). */
  current: { key: Buffer; cert: Buffer } | undefined;
  /** Called with every new pair (an order by this process, or the files replaced by anyone). */
  onChange(f: (pair: { key: Buffer; cert: Buffer }) => void): void;
  stop(): Promise<void>;
}

async function readPair(files: CertFiles): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  try {
    const [key, cert] = await Promise.all([readFile(files.key), readFile(files.cert)]);
    if (!describeCert(cert.toString())) return undefined;
    // a key that does not match its certificate (files replaced one at a time) is not a pair yet
    createSecureContext({ key, cert });
    return { key, cert };
  } catch {
    return undefined;
  }
}

export async function startAcme(config: Config, logger: Logger, registry: Registry): Promise<AcmeRuntime | undefined> {
  const acme = config.mx.tls.acme;
  if (!acme) return undefined;
  const log = logger.child({ component: 'acme' });
  const http01 = await startHttp01(parseHostPort(acme.http_listen, { defaultHost: '0.0.0.0', what: 'mx.tls.acme.http_listen' }));
  const domains = acme.domains.length ? [...acme.domains] : [config.mx.hostname ?? config.policy.hostname];
  const listeners: Array<(pair: { key: Buffer; cert: Buffer }) => void> = [];
  const mgr = createCertManager({
    directoryUrl: acme.directory,
    email: acme.email,
    domains,
    stateDir: join(config.mx.tls.state_dir, 'acme'),
    http01,
    renewBeforeMs: acme.renew_before,
    checkIntervalMs: acme.check_interval,
    directoryCa: acme.directory_ca ? await readFile(acme.directory_ca, 'utf8') : undefined,
    logger: log,
    registry,
    // this process's own orders; the file watch below catches everyone else's
    onCertificate: () => void apply('renewed'),
  });
  const current = await readPair(mgr.files);
  let served = current?.cert.toString();
  let latest = current;
  async function apply(why: string): Promise<void> {
    const pair = await readPair(mgr.files);
    if (!pair || pair.cert.toString() === served) return;
    served = pair.cert.toString();
    latest = pair;
    for (const f of listeners) {
      try {
        f(pair);
      } catch (e) {
        log.error({ event: 'tls-reload', err: (e as Error)?.message ?? String(e) }, 'a listener refused the new certificate');
      }
    }
    log.info({ event: 'tls-reload', why, cert: mgr.files.cert }, 'new certificate in use for new sessions');
  }
  watchFile(mgr.files.cert, { interval: 30_000 }, () => void apply('file changed'));
  if (!current) log.warn({ event: 'tls-selfsigned', domains }, 'no ACME certificate yet: serving the self-signed one until the first order succeeds');
  mgr.start();
  return {
    current,
    onChange(f) {
      listeners.push(f);
      // an order that finished while the listeners were being set up
      if (latest && latest !== current) f(latest);
    },
    async stop() {
      mgr.stop();
      unwatchFile(mgr.files.cert);
      await http01.close();
    },
  };
}
