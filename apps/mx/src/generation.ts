// One config generation of the gateway: everything a session runs on that a reload may change (engine and
// lists, maps, users, TLS pair, spamd, journal, rate limits), built from one validated config. Trusts it.
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { type Authenticator, createAuthenticator, FailureLimiter, openUsersFile, type UsersFile } from '@moat/auth';
import { type CompiledConfig, type Config, type MxView as MxSettings, views } from '@moat/config';
import { createJournal, journalOptionsFromConfig } from '@moat/journal';
import type { Logger, Registry } from '@moat/observe';
import type { QueueWriter } from '@moat/queue';
import { createRateLimiter, rateLimiterOptionsFromConfig } from '@moat/ratelimit';
import { type BuiltEngine, buildEngine, senderLoginCheck } from '@moat/runtime';
import { createSpamdClient, type SpamdClient } from '@moat/spamd';
import { createDns } from '@moat/dns';
import { Anvil } from './limits.ts';
import { createMx, type Mx } from './server.ts';
import { loadTlsMaterial, type TlsMaterial, tlsServerOptions } from './tls.ts';
import { openTransactions } from './transactions.ts';

/**
 * Settings read once at start (listeners, the spool and its thread, the metrics port): a reload that
 * changes one reports it as needing a restart.
 */
export const MX_RESTART_ONLY = [
  'mx.listen.smtp',
  'mx.listen.submission',
  'mx.tls.acme',
  'mx.mta_sts',
  'queue.dir',
  'queue.concurrency',
  'queue.retry',
  'queue.transport',
  'queue.delay_warning',
  'queue.max_lifetime',
  'dns.resolver',
  'metrics',
  'mx.size_limit', // the spool's own bound is set at start (main.ts maxMessageSize)
  'queue.tls',
  'routing', // the delivery thread's resolver (DSNs) is built at start; RCPT-time routing reloads
  'recipients',
] as const;

export interface MxGeneration {
  readonly config: Config;
  readonly settings: MxSettings;
  readonly built: BuiltEngine;
  readonly tls: boolean;
  /** The pair this generation serves at STARTTLS (undefined without TLS). */
  readonly tlsMaterial: TlsMaterial | undefined;
  readonly auth: boolean;
  /** spamd of this generation (undefined when spamd.enabled is off): scans, and the quarantine's learning. */
  readonly spamd: SpamdClient | undefined;
  /** The server for a listener kind (port 25 role or submission). */
  server(submission: boolean): Mx;
  /** Hand a client connection to this generation (its session runs here to the end). */
  accept(socket: Socket, submission: boolean): void;
  /** Its sessions inside a mail transaction now (transactions.ts): the memory upkeep waits for none. */
  transactions(): number;
  /** Refuse new work and close what this generation holds (its sessions are over). */
  close(): Promise<void>;
}

/**
 * Lives across generations: the spool, the metrics registry, AUTH failure counts (a reload must not reset
 * them), and the open users files (a reload re-reads the same file, so a bad line keeps the last good set).
 */
export interface MxShared {
  queue: QueueWriter;
  registry: Registry;
  logger: Logger;
  limiters: Map<string, FailureLimiter>;
  users: Map<string, { file: UsersFile; generations: number }>;
  /** mx.size_limit at start: the spool was opened for it, so a reload cannot raise it (reported as needing a restart). */
  startSizeLimit?: number;
  /** The ACME pair current now (mx.tls.acme), served instead of the configured or self-signed one. */
  tlsPair?: () => { key: Buffer; cert: Buffer } | undefined;
  /**
   * Per-address session counts per listener (true: submission): one anvil across generations, so sessions
   * draining on an old config still count against a client's limit and toward the stress state.
   */
  anvils?: Map<boolean, Anvil>;
}

/** The users file at `path`, shared by the generations that name it: re-read for a new one, closed with the last. */
async function usersFile(shared: MxShared, path: string): Promise<{ file: UsersFile; release(): void }> {
  let open = shared.users.get(path);
  if (open) await open.file.reload('sighup');
  else {
    open = { file: await openUsersFile({ file: path, logger: shared.logger.child({ component: 'auth' }), registry: shared.registry }), generations: 0 };
    shared.users.set(path, open);
  }
  const o = open;
  o.generations++;
  return {
    file: o.file,
    release() {
      if (--o.generations > 0) return;
      shared.users.delete(path);
      o.file.close();
    },
  };
}

export async function buildGeneration(config: Config, compiled: CompiledConfig, shared: MxShared): Promise<MxGeneration> {
  const { registry, logger } = shared;
  const configured = views.mx(config);
  // the spool's bound is set at start (main.ts): a reload may lower the size limit, never raise it past that
  const settings =
    shared.startSizeLimit !== undefined && configured.limits.maxMessageSize > shared.startSizeLimit
      ? { ...configured, limits: { ...configured.limits, maxMessageSize: shared.startSizeLimit } }
      : configured;
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    // watchMaps: each generation watches its own tables; SIGHUP is the reloader's (the whole config)
    const built = await buildEngine(config, { registry, logger, compiled, sighup: false });
    closers.push(() => built.close());
    let tls: ReturnType<typeof tlsServerOptions> | undefined;
    let tlsMaterial: TlsMaterial | undefined;
    if (settings.tls.enabled) {
      const acme = shared.tlsPair?.();
      tlsMaterial = acme ? { ...acme, generated: false } : await loadTlsMaterial(settings, logger);
      tls = tlsServerOptions(tlsMaterial, settings);
      // a key that does not match its certificate is refused here, not at the next client's STARTTLS
      createSecureContext({ key: tls.key, cert: tls.cert });
    }
    let authenticator: Authenticator | undefined;
    let users: UsersFile | undefined;
    if (settings.auth.usersFile) {
      // re-read on change (watch, poll); a bad line keeps the last good set
      const u = await usersFile(shared, settings.auth.usersFile);
      closers.push(() => u.release());
      users = u.file;
      const key = `${settings.auth.maxFailures}/${settings.auth.failureWindowMs}`;
      let limiter = shared.limiters.get(key);
      if (!limiter) shared.limiters.set(key, (limiter = new FailureLimiter(settings.auth.maxFailures, settings.auth.failureWindowMs)));
      authenticator = createAuthenticator(users, limiter);
    }
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
    if (spamd) closers.push(() => spamd.close());
    const journal = config.mx.journal
      ? createJournal({ ...journalOptionsFromConfig(config), registry, logger: logger.child({ component: 'journal' }) })
      : undefined;
    if (journal) closers.push(() => journal.close());
    // shared by every MX through greylist.redis; no Redis connection when every limit is off
    const rateLimitOptions = rateLimiterOptionsFromConfig(config);
    const rateLimits = Object.values(rateLimitOptions.limits).some((n) => n !== undefined && n > 0)
      ? createRateLimiter({ ...rateLimitOptions, registry, logger: logger.child({ component: 'ratelimit' }) })
      : undefined;
    if (rateLimits) closers.push(() => rateLimits.close());
    const resolver = createDns({
      servers: settings.dns.servers,
      timeoutMs: settings.dns.timeoutMs,
      registry,
      logger: logger.child({ component: 'dns' }),
    });
    // who may send as whom, per listener (mx.sender_login), over the policy's own login maps
    const senderLogin = { smtp: senderLoginCheck(config, 'smtp', built), submission: senderLoginCheck(config, 'submission', built) };
    if (authenticator && config.policy.sender_login_maps.length === 0 && (senderLogin.smtp || senderLogin.submission)) {
      logger.info(
        { event: 'config', loginOwnsItself: config.mx.sender_login.login_owns_itself },
        config.mx.sender_login.login_owns_itself
          ? 'no policy.sender_login_maps: a logged-in user may send only as its own address (a bare login: login@ our domains)'
          : 'no policy.sender_login_maps and mx.sender_login.login_owns_itself off: logged-in users may send as no address',
      );
    }
    const servers = new Map<boolean, Mx>();
    const server = (submission: boolean): Mx => {
      let mx = servers.get(submission);
      if (!mx) {
        let anvil = shared.anvils?.get(submission);
        if (shared.anvils && !anvil) {
          anvil = new Anvil({ perIpConcurrency: settings.limits.perIpConcurrency, perIpRatePerMinute: settings.limits.perIpRatePerMinute });
          shared.anvils.set(submission, anvil);
        }
        mx = createMx({
          anvil,
          settings,
          engine: built.engine,
          delayReject: built.spec.delayReject,
          recipients: built.ports.recipients,
          addressResolver: compiled.addressResolver,
          queue: shared.queue,
          spamd,
          resolver,
          tls,
          authenticator,
          submission,
          senderLogin: submission ? senderLogin.submission : senderLogin.smtp,
          myNetworks: built.spec.myNetworks,
          journal,
          rateLimits,
          logger: submission ? logger.child({ listener: 'submission' }) : logger,
          registry,
        });
        servers.set(submission, mx);
      }
      return mx;
    };
    return {
      config,
      settings,
      built,
      tls: !!tls,
      tlsMaterial,
      auth: !!authenticator,
      spamd,
      server,
      accept: (socket, submission) => server(submission).accept(socket),
      transactions: () => openTransactions([...servers.values()].map((m) => m.server)),
      async close() {
        await Promise.all([...servers.values()].map((s) => s.close()));
        await closeAll();
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
