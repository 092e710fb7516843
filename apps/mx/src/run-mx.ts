// moat-mx's body, loaded by the entry (main.ts) once the process runs with its node flags: parses args and config
// once, builds the adapters, starts the server and the queue runner. Talks to SMTP clients, the configured
// resolver, Redis (greylist), spamd, the spool directory and the next hops.
import { parseArgs } from 'node:util';
import { type Config, ConfigError, compileConfig, formatConfigErrors, loadConfig, views } from '@moat/config';
import { bufferedStdout, createLogger, defaultRegistry, PIPE_BUF } from '@moat/observe';
import { createReloader } from '@moat/runtime';
import { startAcme } from './acme.ts';
import { startAdmin } from './admin-listener.ts';
import { buildGeneration, MX_RESTART_ONLY, type MxGeneration, type MxShared } from './generation.ts';
import { hooksInFlight } from './hook.ts';
import { openListeners, splitHostPort, wantedListeners } from './listeners.ts';
import { startMemoryUpkeep } from './memory-upkeep.ts';
import { startMtaStsServer } from './mta-sts-server.ts';
import { type StopState, stopOnSignals } from './shutdown.ts';
import { startSpool } from './spool-start.ts';

const usage = `usage: moat-mx --config FILE [--listen HOST:PORT] [--submission HOST:PORT] [--metrics HOST:PORT|off] [--no-delivery]
  --config       moat.yaml (MOAT_* environment variables override it)
  --listen       the MX listener (port 25 role); with --listen/--submission only those are opened,
                 without either every address of mx.listen.smtp and mx.listen.submission
  --submission   a submission listener (port 587 role: AUTH after STARTTLS required, no spam policy)
  --metrics      Prometheus /metrics and /healthz (default: metrics.listen when metrics.enabled)
  --no-delivery  accept and spool only; another process runs the queue`;

/** Runs the gateway; `workerUrl` is the delivery thread's entry, resolved by main.ts beside itself. */
export async function runMx(workerUrl: URL): Promise<void> {
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
  // log lines are batched (one write per 64 KB or 200 ms, written asynchronously, flushed before exit); the delivery
  // thread writes to the same stdout, so each write is at most PIPE_BUF bytes cut at a line end: the threads' lines
  // never interleave
  const logOut = bufferedStdout({ pieceBytes: PIPE_BUF, registry: defaultRegistry });
  const logger = createLogger('mx', { destination: logOut });
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

  const spool = await startSpool({ config, compiled, settings, workerUrl, noDelivery: !!values['no-delivery'], logger, registry });
  const state: StopState = { stopping: false };
  spool.delivery?.worker.on('exit', (code) => {
    if (state.stopping) return;
    // without its queue thread the gateway can only answer 451: exit and let the supervisor restart it
    logger.error({ event: 'delivery-thread-exit', code }, 'delivery thread exited: stopping');
    void logOut.flush(1000).then(() => process.exit(70));
  });

  // ACME (mx.tls.acme): its certificate once issued, the self-signed one until then. Each generation takes
  // the pair current when it is built; a renewal builds a new generation, so it reaches new sessions.
  const acme = settings.tls.enabled ? await startAcme(config, logger, registry) : undefined;
  let acmePair = acme?.current;
  if (config.mx.auth.require_tls === false) {
    logger.warn({ event: 'config' }, 'mx.auth.require_tls=false is ignored: AUTH is only ever offered after STARTTLS');
  }
  // Everything a reload may change is one generation (generation.ts); the listeners, the spool and its
  // thread live across them. SIGHUP and POST /-/reload build a new one for new sessions (reload.ts).
  const shared: MxShared = { queue: spool.writer, registry, logger, limiters: new Map(), users: new Map(), anvils: new Map(), tlsPair: () => acmePair, startSizeLimit: settings.limits.maxMessageSize };
  const first = await buildGeneration(config, compiled, shared);
  // every generation with sessions: the current one and those draining after a reload (for the memory upkeep)
  const live = new Set<MxGeneration>([first]);
  if (first.auth) logger.info({}, 'AUTH enabled (after STARTTLS)');
  const generations = createReloader<MxGeneration>({
    service: 'mx',
    file: config.source.file,
    config,
    value: first,
    async build(next, nextCompiled) {
      const g = await buildGeneration(next, nextCompiled, shared);
      try {
        await spool.delivery?.reload(next.queue.dkim); // DKIM keys: last, so a refused reload leaves the thread's keys alone
      } catch (e) {
        await g.close();
        throw e;
      }
      live.add(g);
      return g;
    },
    retire: (g) => {
      live.delete(g);
      return g.close();
    },
    restartOnly: MX_RESTART_ONLY,
    logger,
    registry,
  });
  process.on('SIGHUP', () => void generations.reload('sighup'));

  const wanted = wantedListeners(values, config);
  if (wanted.some((w) => w.submission) && !first.auth) {
    logger.warn({ event: 'config' }, 'submission listener without mx.auth.users_file: nobody can log in, it will refuse all mail');
  }
  const { listeners, bound } = await openListeners(wanted, generations);

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

  const admin = await startAdmin({ config, settings, metricsArg: values.metrics, delivery: spool.delivery, generations, logger, registry });
  logger.info(
    { listen: bound, hostname: settings.hostname, tls: first.tls, auth: first.auth, spamd: settings.spamd.enabled, delivery: !!spool.delivery, metrics: admin.metricsAt },
    'mx listening',
  );
  stopOnSignals(state, { logger, logOut, listeners, generations, spool, admin, acme, sts });
  // after a load, give back the heap it grew once the gateway has gone quiet (issue 21: idle memory); not while a
  // session is inside a transaction or a hook, whose lookups the pause would make time out (for at most
  // MAX_DEFER_MS: then it runs anyway)
  startMemoryUpkeep({
    logger,
    registry,
    thread: 'smtp',
    busy() {
      let n = 0;
      for (const g of live) n += g.transactions();
      const hooks = hooksInFlight();
      const what = [...(n > 0 ? [`${n} transactions`] : []), ...(hooks > 0 ? [`${hooks} hooks`] : [])];
      return what.length > 0 ? what.join(', ') : undefined;
    },
  });
}
