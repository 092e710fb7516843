// Bad input: an ACME server that answers garbage never takes the MX down. The real moat-mx binary with
// mx.tls.acme pointed at a loopback HTTP server answering broken JSON keeps serving STARTTLS on its own
// certificate, and says so in its metrics and log.
import { createServer, type Server } from 'node:http';
import { freePort, SmtpClient, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeAcmeConfig } from './acme-mx.ts';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let mx: SpawnedMx;
let port: number;
let metricsPort: number;
let redis: Awaited<ReturnType<typeof startRedis>>;
let garbage: Server;

beforeAll(async () => {
  dir = await tmpDir('mx-acme-garbage');
  redis = await startRedis();
  const acmePort = await freePort();
  garbage = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"newNonce": 42, "oops'));
  await new Promise<void>((r) => garbage.listen(acmePort, '127.0.0.1', () => r()));
  port = await freePort();
  metricsPort = await freePort();
  const cfg = await writeAcmeConfig({
    dir: dir.path,
    domain: 'acme.test',
    resolver: `127.0.0.1:${await freePort()}`,
    redisUrl: redis.url,
    acme: `{ directory: "http://127.0.0.1:${acmePort}/dir", email: admin@acme.test, http_listen: "127.0.0.1:${await freePort()}" }`,
    metrics: `{ enabled: true, listen: "127.0.0.1:${metricsPort}" }`,
  });
  mx = await spawnMain(cfg, port);
}, 90_000);

afterAll(async () => {
  await mx?.stop();
  await new Promise<void>((r) => (garbage ? garbage.close(() => r()) : r()));
  await redis?.stop();
  await dir?.remove();
});

it('keeps serving STARTTLS on the self-signed certificate while the ACME server answers garbage', async () => {
  let metrics = '';
  for (let i = 0; i < 120 && !/^moat_acme_renewal_failing 1$/m.test(metrics); i++) {
    metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    if (!/^moat_acme_renewal_failing 1$/m.test(metrics)) await new Promise((r) => setTimeout(r, 250));
  }
  expect(metrics, mx.log.text).toMatch(/^moat_acme_renewal_failing 1$/m);
  expect(metrics).toMatch(/moat_acme_orders_total\{result="failed"\} [1-9]/);
  expect(await mx.logged(/"event":"acme","result":"failed".*certificate issuance failed: staying on the self-signed certificate/)).toMatch(/"event":"acme","result":"failed".*certificate issuance failed: staying on the self-signed certificate/);
  // the MX is up: a session gets its greeting, EHLO and a TLS handshake on the self-signed pair
  const c = await SmtpClient.connect(port);
  expect((await c.read()).code).toBe(220);
  expect((await c.cmd('EHLO client.example.net')).text).toMatch(/STARTTLS/);
  const tls = await c.starttls({ rejectUnauthorized: false, servername: 'mx.acme.test' });
  const cert = tls.getPeerCertificate();
  expect(cert.issuer?.CN).toBe(cert.subject?.CN); // self-signed: its own issuer
  tls.destroy();
}, 60_000);
