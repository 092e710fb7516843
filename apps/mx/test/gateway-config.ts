// The config file of a plain gateway for rcpt@example.org on loopback, for the tests that run the real
// moat-mx binary (kill, quarantine): nothing but the spamd, queue and metrics lines differs between them.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '@moat/testkit';

export interface GatewayConfig {
  /** The test's temp dir: the file is `moat.yaml` in it, TLS state under `tls/`. */
  dir: string;
  redisUrl: string;
  /** The `spamd:` value, e.g. `{ enabled: false }`. */
  spamd: string;
  /** The `queue:` value. */
  queue: string;
  /** Whole lines put between `queue:` and `metrics:` (e.g. a `quarantine:` section). */
  extra?: string;
  /** The `metrics:` value; off unless given. */
  metrics?: string;
}

/** Writes the file and returns its path. Its DNS resolver is a free port nobody answers on (lookups time out fast). */
export async function writeGatewayConfig(c: GatewayConfig): Promise<string> {
  const cfg = join(c.dir, 'moat.yaml');
  await writeFile(
    cfg,
    `version: 1
policy:
  hostname: mx.example.org
  mynetworks: [127.0.0.0/8]
  recipient_restrictions: reject_unlisted_recipient, permit_mynetworks, reject
recipients:
  users: [rcpt@example.org]
  domains: [example.org]
dns:
  resolver: 127.0.0.1:${await freePort()}
  timeout: 200ms
greylist: { redis: { url: "${c.redisUrl}" } }
mx:
  tls: { state_dir: ${c.dir}/tls }
  auth_results: { enabled: false }
spamd: ${c.spamd}
queue: ${c.queue}
${c.extra ?? ''}metrics: ${c.metrics ?? '{ enabled: false }'}
`,
  );
  return cfg;
}
