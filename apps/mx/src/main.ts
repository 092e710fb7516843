#!/usr/bin/env -S node --max-semi-space-size=4
// moat-mx: the SMTP gateway. Parses args and config once, builds the adapters, starts the server and the queue runner.
// Talks to SMTP clients, the configured resolver, Redis (greylist), spamd, the spool directory and the next hops.
// The shebang caps V8's young generation (4 MB semi-spaces): under load the default lets the heap grow
// to ~165 MB of which ~25 MB is live, and V8 keeps it; with the cap the process stays near 230 MB.
import { createWriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { type Config, ConfigError, compileConfig, formatConfigErrors, loadConfig, parseHostPort, tlsReportFrom, views } from '@moat/config';
import { createLogger, defaultRegistry, serveMetrics } from '@moat/observe';
import { toPlainResolverSpec } from '@moat/address';
import { openQueue, type QueueWriter, startDeliveryThread } from '@moat/queue';
import { createReloader } from '@moat/runtime';
import { buildGeneration, MX_RESTART_ONLY, type MxGeneration, type MxShared } from './generation.ts';
import type { DeliveryTls } from './delivery.worker.ts';
import { startAcme } from './acme.ts';
import { startMtaStsServer } from './mta-sts-server.ts';
import { startQuarantine } from './quarantine.ts';
import { type Learner, spamdLearner } from '@moat/spamd';

const usage = `usage: moat-mx --config FILE [--listen HOST:PORT] [--submission HOST:PORT] [--metrics HOST:PORT|off] [--no-delivery]
  --config       moat.yaml (MOAT_* environment variables override it)
  --listen       the MX listener (port 25 role); with --listen/--submission only those are opened,
                 without either every address of mx.listen.smtp and mx.listen.submission
  --submission   a submission listener (port 587 role: AUTH after STARTTLS required, no spam policy)
  --metrics      Prometheus /metrics and /healthz (default: metrics.listen when metrics.enabled)
  --no-delivery  accept and spool only; another process runs the queue`;

/** A listener's address; a bare port listens on every IPv4 address. */
const splitHostPort = (s: string): { host: string; port: number } => parseHostPort(s, { defaultHost: '0.0.0.0' });

/** A listening socket whose connections go to `accept` (which config generation serves them is its choice). */
function listenShared(host: string, port: number, accept: (socket: Socket) => void): Promise<Server> {
  const server = createServer(accept);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      submission: { type: 'string' },
      metrics: { type: 'string' },
      'no-delivery': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.config) {
    console.error(usage);
    process.exit(values.help ? 0 : 64);
  }
  // log lines go out through an fs stream: lines queued while a write is in flight leave in one writev
  const logger = createLogger('mx', { destination: createWriteStream('', { fd: 1, autoClose: false }) });
  let config: Config;
  try {
    config = loadConfig(values.config);
  } catch (e) {
    console.error(e instanceof ConfigError ? formatConfigErrors(e) : String(e));
    process.exit(78);
  }
  const settings = views.mx(config);
  const registry = defaultRegistry;
  const compiled = compileConfig(config);

  // The queue runs in its own thread: spooling (open, write, fsync, rename) and deliveries happen
  // there, off the SMTP event loop. --no-delivery spools here and leaves delivery to another process.
  const maxMessageSize = settings.limits.maxMessageSize + 1024 * 1024;
  const delivery = values['no-delivery']
    ? undefined
    : startDeliveryThread(new URL(import.meta.url.endsWith('.ts') ? './delivery.worker.ts' : './delivery.worker.js', import.meta.url), {
        hostname: settings.hostname,
        maxMessageSize,
        queue: {
          dir: config.queue.dir,
          transport: config.queue.transport,
          concurrency: config.queue.concurrency,
          retry: config.queue.retry,
          delay_warning: config.queue.delay_warning,
          max_lifetime: config.queue.max_lifetime,
        },
        dkim: config.queue.dkim,
        resolver: config.dns.resolver,
        // the resolver as data: the thread opens the same tables without loading the config code
        routing: { spec: toPlainResolverSpec(compiled.routing.spec), baseDir: dirname(config.source.file) },
        tls: { queue: config.queue.tls, redis: config.greylist.redis, policyHostname: config.policy.hostname, reportFrom: tlsReportFrom(config).from } satisfies DeliveryTls,
      });
  let stopping = false;
  delivery?.worker.on('exit', (code) => {
    if (stopping) return;
    // without its queue thread the gateway can only answer 451: exit and let the supervisor restart it
    logger.error({ event: 'delivery-thread-exit', code }, 'delivery thread exited: stopping');
    process.exit(70);
  });
  const localQueue = delivery ? undefined : await openQueue({ dir: config.queue.dir, logger: logger.child({ component: 'queue' }), registry, maxMessageSize });
  const writer: QueueWriter = delivery ?? localQueue!;

  // ACME (mx.tls.acme): its certificate once issued, the self-signed one until then. Each generation takes
  // the pair current when it is built; a renewal builds a new generation, so it reaches new sessions.
  const acme = settings.tls.enabled ? await startAcme(config, logger, registry) : undefined;
  let acmePair = acme?.current;
  if (config.mx.auth.require_tls === false) {
    logger.warn({ event: 'config' }, 'mx.auth.require_tls=false is ignored: AUTH is only ever offered after STARTTLS');
  }
  // Everything a reload may change is one generation (generation.ts); the listeners, the spool and its
  // thread live across them. SIGHUP and POST /-/reload build a new one for new sessions (reload.ts).
  const shared: MxShared = { queue: writer, registry, logger, limiters: new Map(), users: new Map(), anvils: new Map(), tlsPair: () => acmePair, startSizeLimit: settings.limits.maxMessageSize };
  const first = await buildGeneration(config, compiled, shared);
  if (first.auth) logger.info({}, 'AUTH enabled (after STARTTLS)');
  const generations = createReloader<MxGeneration>({
    service: 'mx',
    file: config.source.file,
    config,
    value: first,
    async build(next, nextCompiled) {
      const g = await buildGeneration(next, nextCompiled, shared);
      try {
        await delivery?.reload(next.queue.dkim); // DKIM keys: last, so a refused reload leaves the thread's keys alone
      } catch (e) {
        await g.close();
        throw e;
      }
      return g;
    },
    retire: (g) => g.close(),
    restartOnly: MX_RESTART_ONLY,
    logger,
    registry,
  });
  process.on('SIGHUP', () => void generations.reload('sighup'));

  const explicit = values.listen !== undefined || values.submission !== undefined;
  const wanted: Array<{ at: string; submission: boolean }> = explicit
    ? [
        ...(values.listen ? [{ at: values.listen, submission: false }] : []),
        ...(values.submission ? [{ at: values.submission, submission: true }] : []),
      ]
    : [
        ...config.mx.listen.smtp.map((at) => ({ at, submission: false })),
        ...config.mx.listen.submission.map((at) => ({ at, submission: true })),
      ];
  if (wanted.some((w) => w.submission) && !first.auth) {
    logger.warn({ event: 'config' }, 'submission listener without mx.auth.users_file: nobody can log in, it will refuse all mail');
  }
  const listeners: Server[] = [];
  const bound: string[] = [];
  for (const w of wanted) {
    const { host, port } = splitHostPort(w.at);
    const listener = await listenShared(host, port, (socket) => {
      // the session runs to its end on the generation current when it connected
      const lease = generations.acquire();
      socket.once('close', () => lease.release());
      lease.value.accept(socket, w.submission);
    });
    listeners.push(listener);
    const a = listener.address() as AddressInfo;
    bound.push(`${w.submission ? 'submission' : 'smtp'} ${a.address}:${a.port}`);
  }

  // the MTA-STS policy file for mta-sts.DOMAIN, with the MX certificate (mx.mta_sts)
  const material = first.tlsMaterial;
  const sts =
    config.mx.mta_sts && material
      ? await startMtaStsServer({
          ...splitHostPort(config.mx.mta_sts.listen),
          policy: { mode: config.mx.mta_sts.mode, mx: [settings.hostname, ...config.mx.mta_sts.mx], maxAge: config.mx.mta_sts.max_age },
          key: material.key,
          cert: material.cert,
        })
      : undefined;
  if (sts) bound.push(`mta-sts ${sts.address().address}:${sts.address().port}`);
  acme?.onChange((pair) => {
    acmePair = pair;
    sts?.setCertificate(pair);
    void generations.reload('acme');
  });

  // the quarantine (hold/ of this spool): its routes on the admin listener, its hourly expiry. Its learner
  // (release --learn-ham, delete --learn-spam) teaches the spamd of the config in force (TELL).
  const learner: Learner = async (message, as) => {
    const spamd = generations.current().spamd;
    if (!spamd) throw new Error('spamd is not enabled (spamd.enabled: false): nothing to teach');
    await spamdLearner(spamd)(message, as);
  };
  const quarantine = startQuarantine({ dir: config.queue.dir, retentionMs: settings.quarantine.retentionMs, token: settings.quarantine.adminToken, logger, registry, learner });

  const metricsAt = values.metrics ?? (config.metrics.enabled ? config.metrics.listen : 'off');
  // one /metrics for the process: this thread's registry plus the delivery thread's (queue, deliveries)
  const scraped = delivery
    ? ({
        contentType: registry.contentType,
        metrics: async () => `${await registry.metrics()}\n${await delivery.metrics()}`,
      } as unknown as typeof registry)
    : registry;
  const metrics = metricsAt === 'off' ? undefined : await serveMetrics(scraped, { ...splitHostPort(metricsAt), health: () => generations.current().built.health(),
        reload: { run: (trigger) => generations.reload(trigger), last: () => generations.last() },
        quarantine: quarantine.routes,
      });
  logger.info(
    { listen: bound, hostname: settings.hostname, tls: first.tls, auth: first.auth, spamd: settings.spamd.enabled, delivery: !!delivery, metrics: metricsAt },
    'mx listening',
  );

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'mx stopping');
    // a hard deadline: whatever hangs, the process goes (the queue is durable; nothing is lost)
    setTimeout(() => {
      logger.warn({ signal }, 'mx did not stop in 10 s, exiting');
      process.exit(1);
    }, 10_000).unref();
    const step = async (name: string, f: () => Promise<unknown> | unknown) => {
      logger.debug({ step: name }, 'stopping');
      await f();
    };
    await step('listen', () => Promise.all(listeners.map((l) => new Promise((resolve) => l.close(resolve)))));
    // every generation's sessions are told 421 and closed (smtp-server's close), then its adapters
    await step('smtp', () => generations.close());
    await step('delivery', () => delivery?.stop());
    await step('queue', () => localQueue?.close());
    await step('metrics', () => metrics?.close());
    quarantine.stop();
    await step('acme', () => acme?.stop());
    await step('mta-sts', () => sts?.close());
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  console.error(`mx: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
