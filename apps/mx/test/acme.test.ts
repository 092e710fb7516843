// mx with mx.tls.acme against Debian's pebble: it starts on the self-signed certificate, orders one over HTTP-01
// (pebble resolves the name through a test Unbound), and new STARTTLS sessions and the MTA-STS host get it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, SmtpClient, startPebble, startRedis, startUnbound, tmpDir, type PebbleServer, type UnboundServer } from '@moat/testkit';
import { fetchStsPolicy, wireResolver } from '@moat/tlspolicy';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let mx: SpawnedMx;
let port: number;
let metricsPort: number;
let stsPort: number;
let redis: Awaited<ReturnType<typeof startRedis>>;
let dns: UnboundServer;
let pebble: PebbleServer;

beforeAll(async () => {
  dir = await tmpDir('mx-acme');
  redis = await startRedis();
  dns = await startUnbound({ stubZones: {}, localZones: { 'acme.test': 'static' }, localData: ['mx.acme.test. 60 IN A 127.0.0.1', 'mta-sts.acme.test. 60 IN A 127.0.0.1', '_mta-sts.acme.test. 60 IN TXT "v=STSv1; id=1"'] });
  const httpPort = await freePort();
  pebble = await startPebble({ dnsServer: dns.server, httpPort });
  await writeFile(join(dir.path, 'pebble-ca.pem'), pebble.listenerCa);
  port = await freePort();
  metricsPort = await freePort();
  stsPort = await freePort();
  const cfg = join(dir.path, 'moat.yaml');
  await writeFile(
    cfg,
    `version: 1
policy:
  hostname: mx.acme.test
recipients:
  domains: [acme.test]
dns:
  resolver: ${dns.server}
mx:
  tls:
    state_dir: ${dir.path}/tls
    acme: { directory: "${pebble.directoryUrl}", directory_ca: ${dir.path}/pebble-ca.pem, email: admin@acme.test, http_listen: "127.0.0.1:${httpPort}", domains: [mx.acme.test, mta-sts.acme.test] }
  mta_sts: { listen: "127.0.0.1:${stsPort}", mode: enforce, max_age: 86400 }
spamd: { enabled: false }
greylist: { redis: { url: "${redis.url}" } }
queue: { dir: ${dir.path}/spool, transport: "maildir:${dir.path}/mail" }
metrics: { enabled: true, listen: "127.0.0.1:${metricsPort}" }
`,
  );
  mx = await spawnMain(cfg, port);
}, 90_000);

afterAll(async () => {
  await mx?.stop();
  await pebble?.stop();
  await dns?.stop();
  await redis?.stop();
  await dir?.remove();
});

async function peerIssuer(): Promise<string> {
  const c = await SmtpClient.connect(port);
  await c.read();
  await c.cmd('EHLO client.example.net');
  const tls = await c.starttls({ rejectUnauthorized: false, servername: 'mx.acme.test' });
  const issuer = tls.getPeerCertificate().issuer?.CN ?? '';
  tls.destroy();
  return String(issuer);
}

it('serves the ACME certificate to new sessions once pebble has issued it, without a restart', async () => {
  // wait for the order in the log, then look: sessions before it see the self-signed pair (its own issuer)
  for (let i = 0; i < 120 && !/"event":"tls-reload"/.test(mx.log.text); i++) await new Promise((r) => setTimeout(r, 250));
  // the new pair reaches new sessions through a new config generation (a reload), a moment after the order
  let issuer = '';
  for (let i = 0; i < 120 && !/pebble/i.test(issuer); i++) {
    issuer = await peerIssuer().catch((e) => `${e}\n${mx.log.text}`);
    if (!/pebble/i.test(issuer)) await new Promise((r) => setTimeout(r, 250));
  }
  expect(issuer, mx.log.text).toMatch(/pebble/i);
  expect(await mx.logged(/"event":"acme".*"result":"issued"/)).toMatch(/"event":"acme".*"result":"issued"/);
  expect(await mx.logged(/"event":"tls-reload"/)).toMatch(/"event":"tls-reload"/);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(Number(/^moat_tls_cert_expiry_days (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(1);
  expect(metrics).toMatch(/^moat_acme_renewal_failing 0$/m);
  // the MTA-STS policy file, served with the ACME certificate, read the way outbound delivery reads it
  const root = await pebble.issuerRoot();
  const policy = await fetchStsPolicy('acme.test', { resolver: wireResolver([dns.server]), ca: [root], port: stsPort, timeoutMs: 10_000 });
  expect(policy).toEqual({ mode: 'enforce', mx: ['mx.acme.test'], maxAge: 86400 });
}, 120_000);
