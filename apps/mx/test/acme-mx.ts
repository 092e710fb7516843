// The ACME tests' harness (acme, acme-garbage, tls-audit): a test Unbound serving the names to order, Debian's
// pebble resolving them through it, the MX's config for one domain with mx.tls.acme, and the certificate a session gets.
import type { PeerCertificate } from 'node:tls';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PebbleServer, SmtpClient, startPebble, startUnbound, freePort, type UnboundServer } from '@moat/testkit';

export interface PebbleStack {
  dns: UnboundServer;
  pebble: PebbleServer;
  /** Where the MX must answer pebble's HTTP-01 challenges. */
  httpPort: number;
  /** pebble's listener CA, written for `directory_ca`. */
  caFile: string;
  stop(): Promise<void>;
}

/** Unbound with `zone` static and its `localData`, and pebble resolving through it; the CA file goes into `dir`. */
export async function startPebbleStack(dir: string, zone: string, localData: string[]): Promise<PebbleStack> {
  const dns = await startUnbound({ stubZones: {}, localZones: { [zone]: 'static' }, localData });
  const httpPort = await freePort();
  const pebble = await startPebble({ dnsServer: dns.server, httpPort });
  const caFile = join(dir, 'pebble-ca.pem');
  await writeFile(caFile, pebble.listenerCa);
  return {
    dns,
    pebble,
    httpPort,
    caFile,
    async stop() {
      await pebble.stop();
      await dns.stop();
    },
  };
}

/** The `acme:` value ordering from the stack's pebble for `domain` (the `domains` list only when given). */
export function pebbleAcme(stack: PebbleStack, domain: string, domains?: readonly string[]): string {
  const names = domains ? `, domains: [${domains.join(', ')}]` : '';
  return `{ directory: "${stack.pebble.directoryUrl}", directory_ca: ${stack.caFile}, email: admin@${domain}, http_listen: "127.0.0.1:${stack.httpPort}"${names} }`;
}

export interface AcmeConfig {
  /** The test's temp dir: `moat.yaml`, `tls/`, `spool/` and `mail/` go in it. */
  dir: string;
  /** The MX is mx.<domain> and receives for <domain> into the maildir. */
  domain: string;
  /** `dns.resolver`. */
  resolver: string;
  redisUrl: string;
  /** The `mx.tls.acme:` value. */
  acme: string;
  /** More lines under `mx:` (two spaces in), e.g. `mta_sts`. */
  mx?: string;
  /** The `metrics:` value; off unless given. */
  metrics?: string;
}

/** Writes the config and returns its path. */
export async function writeAcmeConfig(c: AcmeConfig): Promise<string> {
  const cfg = join(c.dir, 'moat.yaml');
  await writeFile(
    cfg,
    `version: 1
policy:
  hostname: mx.${c.domain}
recipients:
  domains: [${c.domain}]
dns:
  resolver: "${c.resolver}"
mx:
  tls:
    state_dir: ${c.dir}/tls
    acme: ${c.acme}
${c.mx ?? ''}spamd: { enabled: false }
greylist: { redis: { url: "${c.redisUrl}" } }
queue: { dir: ${c.dir}/spool, transport: "maildir:${c.dir}/mail" }
metrics: ${c.metrics ?? '{ enabled: false }'}
`,
  );
  return cfg;
}

/** The certificate a new session gets after EHLO and STARTTLS (not verified: the test looks at it). */
export async function peerCertificate(port: number, servername: string): Promise<PeerCertificate> {
  const c = await SmtpClient.connect(port);
  await c.read();
  await c.cmd('EHLO client.example.net');
  const tls = await c.starttls({ rejectUnauthorized: false, servername });
  const cert = tls.getPeerCertificate();
  tls.destroy();
  return cert;
}

/** New sessions every 250 ms, at most `tries`, until the issuer's CN matches; returns the last one (or the error). */
export async function waitForIssuer(port: number, servername: string, issuer: RegExp, tries: number): Promise<string> {
  let cn = '';
  for (let i = 0; i < tries && !issuer.test(cn); i++) {
    cn = await peerCertificate(port, servername).then(
      (cert) => String(cert.issuer?.CN ?? ''),
      (e) => String(e),
    );
    if (!issuer.test(cn)) await new Promise((r) => setTimeout(r, 250));
  }
  return cn;
}
