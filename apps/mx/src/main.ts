#!/usr/bin/env -S node --max-semi-space-size=4
// moat-mx: the SMTP gateway. Parses args and config once, builds the adapters, starts the server and the queue runner.
// Talks to SMTP clients, the configured resolver, Redis (greylist), spamd, the spool directory and the next hops.
// The shebang caps V8's young generation (4 MB semi-spaces): under load the default lets the heap grow
// to ~165 MB of which ~25 MB is live, and V8 keeps it; with the cap the process stays near 230 MB.
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Authenticator, createAuthenticator, FailureLimiter, openUsersFile, type UsersFile } from '@moat/auth';
import { type Config, ConfigError, compileConfig, formatConfigErrors, loadConfig, parseHostPort, views } from '@moat/config';
import { createLogger, defaultRegistry, serveMetrics } from '@moat/observe';
import { openQueue, type QueueWriter } from '@moat/queue';
import { createJournal, journalOptionsFromConfig } from '@moat/journal';
import { createRateLimiter, rateLimiterOptionsFromConfig } from '@moat/ratelimit';
import { buildEngine } from '@moat/runtime';
import { createSpamdClient } from '@moat/spamd';
import { startDeliveryThread } from './delivery-worker.ts';
import { cachingResolver, createResolver } from './dns.ts';
import { createMx } from './server.ts';
import { loadTlsMaterial, tlsServerOptions } from './tls.ts';

const usage = `usage: moat-mx --config FILE [--listen HOST:PORT] [--submission HOST:PORT] [--metrics HOST:PORT|off] [--no-delivery]
  --config       moat.yaml (MOAT_* environment variables override it)
  --listen       the MX listener (port 25 role); with --listen/--submission only those are opened,
                 without either every address of mx.listen.smtp and mx.listen.submission
  --submission   a submission listener (port 587 role: AUTH after STARTTLS required, no spam policy)
  --metrics      Prometheus /metrics and /healthz (default: metrics.listen when metrics.enabled)
  --no-delivery  accept and spool only; another process runs the queue`;

/** A listener's address; a bare port listens on every IPv4 address. */
const splitHostPort = (s: string): { host: string; port: number } => parseHostPort(s, { defaultHost: '0.0.0.0' });

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
  const built = await buildEngine(config, { registry, logger, compiled });
  // where accepted mail goes: the resolver over the tables buildEngine watches (the delivery thread builds its own)
  const addressResolver = compiled.addressResolver;

  // The queue runs in its own thread: spooling (open, write, fsync, rename) and deliveries happen
  // there, off the SMTP event loop. --no-delivery spools here and leaves delivery to another process.
  const maxMessageSize = settings.limits.maxMessageSize + 1024 * 1024;
  const delivery = values['no-delivery']
    ? undefined
    : startDeliveryThread(new URL(import.meta.url.endsWith('.ts') ? './delivery.worker.ts' : './delivery.worker.js', import.meta.url), {
        hostname: settings.hostname,
        queue: config.queue,
        resolver: config.dns.resolver,
        maxMessageSize,
        configFile: config.source.file,
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

  const tls = settings.tls.enabled ? tlsServerOptions(await loadTlsMaterial(settings, logger), settings) : undefined;
  let authenticator: Authenticator | undefined;
  let users: UsersFile | undefined;
  if (config.mx.auth.require_tls === false) {
    logger.warn({ event: 'config' }, 'mx.auth.require_tls=false is ignored: AUTH is only ever offered after STARTTLS');
  }
  if (settings.auth.usersFile) {
    // re-read on change (watch, poll) and on SIGHUP; a bad line keeps the last good set
    users = await openUsersFile({ file: settings.auth.usersFile, logger: logger.child({ component: 'auth' }), registry });
    authenticator = createAuthenticator(users, new FailureLimiter(settings.auth.maxFailures, settings.auth.failureWindowMs));
    logger.info({ users: users.size }, 'AUTH enabled (after STARTTLS)');
  }
  process.on('SIGHUP', () => {
    if (users) void users.reload('sighup');
    else logger.info({ signal: 'SIGHUP' }, 'SIGHUP: no users file to reload');
  });
  const spamd = settings.spamd.enabled
    ? createSpamdClient({
        host: settings.spamd.host,
        port: settings.spamd.port,
        timeoutMs: settings.spamd.timeoutMs,
        connectTimeoutMs: settings.spamd.connectTimeoutMs,
        maxConnections: settings.spamd.maxConnections,
        registry,
        logger: logger.child({ component: 'spamd' }),
      })
    : undefined;

  const journal = config.mx.journal
    ? createJournal({ ...journalOptionsFromConfig(config), registry, logger: logger.child({ component: 'journal' }) })
    : undefined;
  // shared by every MX through greylist.redis; no Redis connection when every limit is off
  const rateLimitOptions = rateLimiterOptionsFromConfig(config);
  const rateLimits = Object.values(rateLimitOptions.limits).some((n) => n !== undefined && n > 0)
    ? createRateLimiter({ ...rateLimitOptions, registry, logger: logger.child({ component: 'ratelimit' }) })
    : undefined;
  const resolver = cachingResolver(createResolver(settings.dns.servers, settings.dns.timeoutMs));
  const make = (submission: boolean) =>
    createMx({
      settings,
      engine: built.engine,
      delayReject: built.spec.delayReject,
      recipients: built.ports.recipients,
      addressResolver,
      queue: writer,
      spamd,
      resolver,
      tls,
      authenticator,
      submission,
      journal,
      rateLimits,
      logger: submission ? logger.child({ listener: 'submission' }) : logger,
      registry,
    });
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
  if (wanted.some((w) => w.submission) && !authenticator) {
    logger.warn({ event: 'config' }, 'submission listener without mx.auth.users_file: nobody can log in, it will refuse all mail');
  }
  const servers: Array<ReturnType<typeof make>> = [];
  const bound: string[] = [];
  for (const w of wanted) {
    const server = make(w.submission);
    const { host, port } = splitHostPort(w.at);
    const a = await server.listen(port, host);
    servers.push(server);
    bound.push(`${w.submission ? 'submission' : 'smtp'} ${a.address}:${a.port}`);
  }

  const metricsAt = values.metrics ?? (config.metrics.enabled ? config.metrics.listen : 'off');
  // one /metrics for the process: this thread's registry plus the delivery thread's (queue, deliveries)
  const scraped = delivery
    ? ({
        contentType: registry.contentType,
        metrics: async () => `${await registry.metrics()}\n${await delivery.metrics()}`,
      } as unknown as typeof registry)
    : registry;
  const metrics = metricsAt === 'off' ? undefined : await serveMetrics(scraped, { ...splitHostPort(metricsAt), health: () => built.health() });
  logger.info(
    { listen: bound, hostname: settings.hostname, tls: !!tls, auth: !!authenticator, spamd: settings.spamd.enabled, delivery: !!delivery, metrics: metricsAt },
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
    await step('smtp', () => Promise.all(servers.map((m) => m.close())));
    await step('delivery', () => delivery?.stop());
    await step('queue', () => localQueue?.close());
    await step('metrics', () => metrics?.close());
    await step('journal', () => journal?.close());
    await step('ratelimit', () => rateLimits?.close());
    await step('users', () => users?.close());
    await step('engine', () => built.close());
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  console.error(`mx: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
