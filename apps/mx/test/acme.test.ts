// mx with mx.tls.acme against Debian's pebble: it starts on the self-signed certificate, orders one over HTTP-01
// (pebble resolves the name through a test Unbound), and new STARTTLS sessions and the MTA-STS host get it.
import { freePort, startRedis, tmpDir } from '@moat/testkit';
import { fetchStsPolicy, wireResolver } from '@moat/tlspolicy';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PebbleStack, pebbleAcme, startPebbleStack, waitForIssuer, writeAcmeConfig } from './acme-mx.ts';
import { type SpawnedMx, spawnMain } from './spawn-main.ts';

let dir: Awaited<ReturnType<typeof tmpDir>>;
let mx: SpawnedMx;
let port: number;
let metricsPort: number;
let stsPort: number;
let redis: Awaited<ReturnType<typeof startRedis>>;
let stack: PebbleStack;

beforeAll(async () => {
  dir = await tmpDir('mx-acme');
  redis = await startRedis();
  stack = await startPebbleStack(dir.path, 'acme.test', ['mx.acme.test. 60 IN A 127.0.0.1', 'mta-sts.acme.test. 60 IN A 127.0.0.1', '_mta-sts.acme.test. 60 IN TXT "v=STSv1; id=1"']);
  port = await freePort();
  metricsPort = await freePort();
  stsPort = await freePort();
  const cfg = await writeAcmeConfig({
    dir: dir.path,
    domain: 'acme.test',
    resolver: stack.dns.server,
    redisUrl: redis.url,
    acme: pebbleAcme(stack, 'acme.test', ['mx.acme.test', 'mta-sts.acme.test']),
    mx: `  mta_sts: { listen: "127.0.0.1:${stsPort}", mode: enforce, max_age: 86400 }\n`,
    metrics: `{ enabled: true, listen: "127.0.0.1:${metricsPort}" }`,
  });
  mx = await spawnMain(cfg, port);
}, 90_000);

afterAll(async () => {
  await mx?.stop();
  await stack?.stop();
  await redis?.stop();
  await dir?.remove();
});

it('serves the ACME certificate to new sessions once pebble has issued it, without a restart', async () => {
  // wait for the order in the log, then look: sessions before it see the self-signed pair (its own issuer)
  for (let i = 0; i < 120 && !/"event":"tls-reload"/.test(mx.log.text); i++) await new Promise((r) => setTimeout(r, 250));
  // the new pair reaches new sessions through a new config generation (a reload), a moment after the order
  const issuer = await waitForIssuer(port, 'mx.acme.test', /pebble/i, 120);
  expect(issuer, mx.log.text).toMatch(/pebble/i);
  expect(await mx.logged(/"event":"acme".*"result":"issued"/)).toMatch(/"event":"acme".*"result":"issued"/);
  expect(await mx.logged(/"event":"tls-reload"/)).toMatch(/"event":"tls-reload"/);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(Number(/^moat_tls_cert_expiry_days (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(1);
  expect(metrics).toMatch(/^moat_acme_renewal_failing 0$/m);
  // the MTA-STS policy file, served with the ACME certificate, read the way outbound delivery reads it
  const root = await stack.pebble.issuerRoot();
  const policy = await fetchStsPolicy('acme.test', { resolver: wireResolver([stack.dns.server]), ca: [root], port: stsPort, timeoutMs: 10_000 });
  expect(policy).toEqual({ mode: 'enforce', mx: ['mx.acme.test'], maxAge: 86400 });
}, 120_000);
