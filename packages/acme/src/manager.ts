// Keeps the MX certificate issued and renewed through ACME (acme-client, HTTP-01); the last good one stays on failure.
// Talks to the configured ACME directory (untrusted answers: any failure only keeps the old certificate) and its validators.
import { Agent } from 'node:https';
import { Counter, Gauge, type Logger, metricOnce, type Registry } from '@moat/observe';
import * as acme from 'acme-client';
import type { Http01Responder } from './http01.ts';
import { certFiles, type CertFiles, describeCert, readIfExists, writeAtomic } from './store.ts';

export interface CertManagerOptions {
  /** The ACME directory URL (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory). */
  directoryUrl: string;
  email?: string | undefined;
  /** The MX hostname first, then the submission name(s). */
  domains: string[];
  /** Where account.key, privkey.pem and fullchain.pem live. */
  stateDir: string;
  http01: Http01Responder;
  /** Renew when the certificate expires within this long (default 30 days). */
  renewBeforeMs?: number;
  /** How often to check (default 12 h); after a failure, retryMs (default 1 h). */
  checkIntervalMs?: number;
  retryMs?: number;
  /** A private ACME CA's TLS root (tests: pebble's); default: the system's CAs. */
  directoryCa?: string | undefined;
  /** Per HTTP request to the ACME server (default 30 s). */
  requestTimeoutMs?: number;
  logger?: Logger | undefined;
  registry?: Registry | undefined;
  /** Called after a new certificate is on disk (mx swaps its TLS context). */
  onCertificate?: (files: CertFiles) => void;
  now?: () => number;
}

export type RenewResult = 'issued' | 'renewed' | 'fresh' | 'failed';

export interface CertManager {
  readonly files: CertFiles;
  /** Issue when missing, renew when due; never throws (a failure keeps the files as they were). */
  renewIfDue(force?: boolean): Promise<RenewResult>;
  /** Check now and then on a timer. */
  start(): void;
  stop(): void;
}

function metric<T>(registry: Registry | undefined, name: string, make: (r: Registry) => T): T | undefined {
  if (!registry) return undefined;
  return metricOnce(registry, name, () => make(registry));
}

export function createCertManager(o: CertManagerOptions): CertManager {
  const files = certFiles(o.stateDir);
  const now = o.now ?? Date.now;
  const renewBefore = o.renewBeforeMs ?? 30 * 86_400_000;
  const log = o.logger;
  let failing = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RenewResult> | undefined;
  let expiry: number | undefined;

  metric(
    o.registry,
    'moat_tls_cert_expiry_days',
    (r) =>
      new Gauge({
        name: 'moat_tls_cert_expiry_days',
        help: 'Days until the MX certificate (ACME) expires; negative once expired',
        registers: [r],
        collect() {
          if (expiry !== undefined) this.set((expiry - now()) / 86_400_000);
        },
      }),
  );
  const orders = metric(
    o.registry,
    'moat_acme_orders_total',
    (r) => new Counter({ name: 'moat_acme_orders_total', help: 'ACME orders by result (issued, renewed, failed)', labelNames: ['result'], registers: [r] }),
  );
  const failingGauge = metric(
    o.registry,
    'moat_acme_renewal_failing',
    (r) => new Gauge({ name: 'moat_acme_renewal_failing', help: '1 while the last ACME order failed (the previous certificate is still in use)', registers: [r] }),
  );

  // acme-client talks through its own axios instance: bound its requests, trust a private directory CA if given
  acme.axios.defaults.timeout = o.requestTimeoutMs ?? 30_000;
  if (o.directoryCa) acme.axios.defaults.httpsAgent = new Agent({ ca: o.directoryCa });

  async function order(existing: ReturnType<typeof describeCert>): Promise<RenewResult> {
    let accountKey = await readIfExists(files.accountKey);
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      await writeAtomic(files.accountKey, accountKey);
    }
    // the certificate's key is made once and kept: a TLSA 3 1 1 record survives every renewal
    let key = await readIfExists(files.key);
    if (!key) {
      key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      await writeAtomic(files.key, key);
    }
    const [, csr] = await acme.crypto.createCsr({ commonName: o.domains[0]!, altNames: o.domains }, key);
    // the account's URL is kept after the first order: later orders skip registration (an "empty update" some CAs refuse)
    const accountUrl = (await readIfExists(files.accountUrl))?.trim();
    const client = new acme.Client({
      directoryUrl: o.directoryUrl,
      accountKey,
      ...(accountUrl && /^https?:\/\//.test(accountUrl) ? { accountUrl } : {}),
      backoffAttempts: 5,
      backoffMin: 500,
      backoffMax: 5000,
    });
    const cert = await client.auto({
      csr,
      ...(o.email ? { email: o.email } : {}),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // the CA's validators check; our own pre-check would ask the machine's resolver (never done)
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`unsupported challenge ${challenge.type}`);
        o.http01.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        o.http01.remove(challenge.token);
      },
    });
    if (!accountUrl) await writeAtomic(files.accountUrl, `${client.getAccountUrl()}\n`);
    const got = describeCert(cert);
    if (!got) throw new Error('the ACME server returned something that is not a certificate');
    if (!o.domains.every((d) => got.names.includes(d))) throw new Error(`the certificate does not name ${o.domains.join(', ')}`);
    await writeAtomic(files.cert, cert, 0o644);
    expiry = got.notAfter;
    return existing ? 'renewed' : 'issued';
  }

  async function run(force: boolean): Promise<RenewResult> {
    const current = describeCert(await readIfExists(files.cert).catch(() => undefined));
    if (current) expiry = current.notAfter;
    const due = !current || force || current.notAfter - renewBefore <= now() || !o.domains.every((d) => current.names.includes(d));
    if (!due) return 'fresh';
    try {
      const result = await order(current);
      failing = 0;
      failingGauge?.set(0);
      orders?.inc({ result });
      log?.info({ event: 'acme', result, domains: o.domains, expires: new Date(expiry ?? 0).toISOString(), decided_by: 'acme' }, `certificate ${result}`);
      o.onCertificate?.(files);
      return result;
    } catch (e) {
      failing++;
      failingGauge?.set(1);
      orders?.inc({ result: 'failed' });
      const days = current ? Math.floor((current.notAfter - now()) / 86_400_000) : undefined;
      log?.warn(
        { event: 'acme', result: 'failed', domains: o.domains, err: String((e as Error)?.message ?? e).slice(0, 500), failures: failing, daysLeft: days, decided_by: 'acme' },
        current ? 'certificate renewal failed: keeping the current certificate' : 'certificate issuance failed: staying on the self-signed certificate',
      );
      return 'failed';
    }
  }

  const mgr: CertManager = {
    files,
    renewIfDue(force = false) {
      // one order at a time
      running ??= run(force).finally(() => {
        running = undefined;
      });
      return running;
    },
    start() {
      const tick = async () => {
        const r = await mgr.renewIfDue();
        timer = setTimeout(tick, r === 'failed' ? (o.retryMs ?? 3_600_000) : (o.checkIntervalMs ?? 12 * 3_600_000));
        timer.unref();
      };
      void tick();
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
  return mgr;
}
