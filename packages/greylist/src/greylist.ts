// createGreylist: the engine's GreylistPort on Redis, shared by every MX, failing open.
// Trusts Redis and the configured resolver; everything in the request is what a remote client said.
import { hostname as osHostname } from 'node:os';
import type { ClockPort, GreylistAnswer, GreylistPort, GreylistRequest } from '@moat/policy';
import { createLogger, defaultRegistry, type Logger, type Registry } from '@moat/observe';
import { createAdmin, type GreylistAdmin } from './admin.ts';
import { type DecideContext, type DecideTimings, type Decision, decide, failOpen } from './decide.ts';
import { defaultWhitelist } from './default-whitelist.ts';
import { createCachingDns, type SpfDns } from './dns.ts';
import { DEFAULT_PREFIX } from './keys.ts';
import { createMetrics } from './metrics.ts';
import { CidrSet } from './network.ts';
import { createStore, GreylistStoreError, type RedisTarget } from './store.ts';
import { Whitelist, type WhitelistSpec } from './whitelist.ts';

export interface GreylistOptions {
  redis: RedisTarget;
  /** How long (ms) a new triplet is deferred (postgrey --delay, 60 s). */
  delayMs?: number;
  /** How long (ms) an unconfirmed triplet waits for its retry (postgrey --retry-window, 2 days). */
  retryWindowMs?: number;
  /** How long (ms) a confirmed triplet is kept after its last pass (postgrey --max-age, 35 days). */
  confirmedTtlMs?: number;
  /** Counted deliveries after which an identity skips greylisting (postgrey --auto-whitelist-clients); 0 = off. */
  autoWhitelistClients?: number;
  /** How long (ms) an auto-whitelist entry lives after its last pass (default: confirmedTtlMs). */
  autoWhitelistTtlMs?: number;
  /** Passes of one identity within this many ms count as one delivery (default 5 minutes). */
  autoWhitelistMinIntervalMs?: number;
  v4Prefix?: number;
  v6Prefix?: number;
  /** Redis slower than this fails open. */
  timeoutMs?: number;
  whitelist?: WhitelistSpec;
  /** Use the shipped default whitelist of pool senders (default true). */
  defaultWhitelist?: boolean;
  keyPrefix?: string;
  /** `IP:port` of the resolver for SPF pool matching (the bundled Unbound). Absent: no SPF matching. */
  resolver?: string | undefined;
  /** Budget for one SPF evaluation before the identity falls back to ptr/network. */
  spfTimeoutMs?: number;
  /** Time source for tests; absent: the Redis server's TIME (one clock for every MX). */
  clock?: ClockPort | undefined;
  /** Host named in the X-Greylist header. */
  hostname?: string;
  /** A store that keeps failing and recovering logs its outage at most once per this many ms (default 30 s). */
  outageLogIntervalMs?: number;
  /** How often admin-API whitelist entries are re-read from Redis, ms. */
  adminWhitelistRefreshMs?: number;
  registry?: Registry;
  logger?: Logger;
  /** Replace the DNS client (tests); normally built from `resolver`. */
  dns?: SpfDns;
}

export interface Greylist extends GreylistPort, GreylistAdmin {
  /**
   * What check() would answer now, without writing anything (no triplet, counter, TTL or metric changes):
   * the same whitelists (the admin whitelist re-read first), identity and decision script, run dry.
   * Where check() would fail open, peek() throws GreylistStoreError, so a caller can tell the two apart.
   */
  peek(request: GreylistRequest): Promise<GreylistAnswer>;
  /** True when Redis answers a PING within timeoutMs. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** The options' defaults, in the units the decide script counts (seconds). */
function timingsOf(options: GreylistOptions): DecideTimings {
  const confirmedTtl = Math.round((options.confirmedTtlMs ?? 35 * 86_400_000) / 1000);
  return {
    delay: (options.delayMs ?? 60_000) / 1000,
    retryWindow: (options.retryWindowMs ?? 2 * 86_400_000) / 1000,
    confirmedTtl,
    awlN: options.autoWhitelistClients ?? 5,
    awlTtl: options.autoWhitelistTtlMs === undefined ? confirmedTtl : options.autoWhitelistTtlMs / 1000,
    awlGap: (options.autoWhitelistMinIntervalMs ?? 300_000) / 1000,
  };
}

/** The shipped default whitelist (unless turned off) and the operator's, one matcher. */
function whitelistOf(options: GreylistOptions, logger: Logger): Whitelist {
  const specs = options.defaultWhitelist === false ? [] : [defaultWhitelist];
  if (options.whitelist) specs.push(options.whitelist);
  const whitelist = new Whitelist(...specs);
  if (whitelist.rejected.length) logger.warn({ rejected: whitelist.rejected }, 'greylist whitelist entries ignored as malformed');
  return whitelist;
}

export function createGreylist(options: GreylistOptions): Greylist {
  const timings = timingsOf(options);
  const timeoutMs = options.timeoutMs ?? 200;
  const logger = options.logger ?? createLogger('greylist');
  const metrics = createMetrics(options.registry ?? defaultRegistry);
  const dns = options.dns ?? (options.resolver ? createCachingDns({ server: options.resolver, timeoutMs: 1000 }) : undefined);
  const store = createStore({ redis: options.redis, timeoutMs, logger, metrics, outageLogIntervalMs: options.outageLogIntervalMs });
  const ctx: DecideContext = {
    store,
    prefix: options.keyPrefix ?? DEFAULT_PREFIX,
    clock: options.clock,
    delay: timings.delay,
    identityOptions: { v4Prefix: options.v4Prefix ?? 24, v6Prefix: options.v6Prefix ?? 64, dns, spfTimeoutMs: options.spfTimeoutMs ?? 1500 },
    adminWhitelist: new CidrSet(),
    timings,
    whitelist: whitelistOf(options, logger),
    metrics,
    host: options.hostname ?? osHostname(),
  };
  const admin = createAdmin(ctx);
  const refresh = () => {
    admin.refreshWhitelist().catch(() => {
      // Redis down: keep the last copy; the outage is logged by the store.
    });
  };
  refresh();
  const timer = setInterval(refresh, options.adminWhitelistRefreshMs ?? 30_000);
  timer.unref();

  return {
    check(request) {
      // a promise chain, not an async function: this runs once per decision
      const started = performance.now();
      const finish = ({ answer, identity }: Decision): GreylistAnswer => {
        const seconds = (performance.now() - started) / 1000;
        const reason = answer.action === 'pass' ? answer.reason : 'greylisted';
        metrics.decisions.inc({ action: answer.action, reason });
        metrics.latency.observe({ action: answer.action }, seconds);
        if (logger.isLevelEnabled('debug')) {
          logger.debug(
            {
              event: 'greylist-decision',
              action: answer.action,
              reason,
              retryAfter: answer.action === 'defer' ? answer.retryAfter : undefined,
              identity: identity?.id,
              ms: Math.round(seconds * 10000) / 10,
              request: { client: request.clientAddress, clientName: request.clientName, sender: request.sender, recipient: request.recipient },
            },
            'greylist decision',
          );
        }
        return answer;
      };
      // A bug, not an outage: still never throw into the engine.
      const bug = (e: unknown): Decision => {
        logger.error({ err: e }, 'greylist decision failed');
        return { answer: failOpen(metrics, 'internal error') };
      };
      let decided: Promise<Decision>;
      try {
        decided = decide(ctx, request);
      } catch (e) {
        decided = Promise.resolve(bug(e));
      }
      return decided.then(finish, (e: unknown) => finish(bug(e)));
    },
    async peek(request) {
      // check() uses the mirror refreshed on a timer; a peek (often in a fresh process) reads it first.
      try {
        await admin.refreshWhitelist();
      } catch (e) {
        throw e instanceof GreylistStoreError ? e : new GreylistStoreError('GREYLIST_UNAVAILABLE', String((e as Error)?.message ?? e), { cause: e });
      }
      return (await decide(ctx, request, true)).answer;
    },
    ...admin,
    ping: () => store.ping(),
    async close() {
      clearInterval(timer);
      await store.close();
    },
  };
}
