// What the console reads and acts on, built from moat.yaml the way the apps build it (runtime's buildEngine):
// the decision journal, the greylist's admin API, the DNS lists' health, the spool's ops API, who is rate limited,
// every node's quarantine (through each mx's admin listener) and spamd's Bayes (learn).
import { type Config, compileConfig, views } from '@moat/config';
import type { DnsList } from '@moat/dnslist';
import { clientNetwork, type Greylist } from '@moat/greylist';
import { createJournal, type Journal, journalOptionsFromConfig } from '@moat/journal';
import { type Logger, type QuarantineClient, quarantineClient, type Registry } from '@moat/observe';
import { queueDelete, queueFlush, queueHold, queueList, queueRelease } from '@moat/queue';
import { createRateLimiter, type RateLimiter, rateLimiterOptionsFromConfig } from '@moat/ratelimit';
import { type AddressExplanation, buildEngine } from '@moat/runtime';
import { createSpamdClient, type LearnClass, type LearnOutcome } from '@moat/spamd';

export interface ConsoleServices {
  journal: Journal;
  /** Undefined when the policy has no check_policy_service step. */
  greylist?: Greylist | undefined;
  dnslist?: DnsList | undefined;
  /** The shared rate limits' read-only view (list/peek): the console never counts. */
  rateLimits: Pick<RateLimiter, 'list' | 'peek' | 'active'>;
  queue: {
    list: () => ReturnType<typeof queueList>;
    flush: (ids?: string[]) => Promise<number>;
    hold: (ids: string[]) => Promise<string[]>;
    release: (ids: string[]) => Promise<string[]>;
    delete: (ids: string[]) => Promise<string[]>;
  };
  /** Every node's quarantine: the metrics endpoints' listeners (an mx serves /-/quarantine there). */
  quarantine: QuarantineClient;
  /** Teach spamd's Bayes (TELL); undefined when spamd is off. `maxBytes`: spamd.max_size. */
  learn?: { maxBytes: number; run(message: Buffer, as: LearnClass): Promise<{ outcome: LearnOutcome }> } | undefined;
  /** How a recipient resolves now (class, rewrites, next hop), for the "Why?" view: the resolver mx delivers with. */
  explainAddress(address: string): AddressExplanation;
  /** The network whitelisting a stuck client covers (the greylist's own grouping, the seed's /24). */
  networkOf(ip: string): string | undefined;
  close(): Promise<void>;
}

/** The nodes to ask for their quarantine: each scraped metrics endpoint's listener, named host:port. */
export function quarantineTargets(metricsUrls: readonly string[]): { name: string; url: string }[] {
  const out: { name: string; url: string }[] = [];
  for (const u of metricsUrls) {
    try {
      const url = new URL(u);
      if (!out.some((t) => t.name === url.host)) out.push({ name: url.host, url: url.origin });
    } catch {
      /* not a URL: the scrape reports it */
    }
  }
  return out;
}

export async function buildServices(config: Config, opts: { registry: Registry; logger: Logger }): Promise<ConsoleServices> {
  // the console signs nothing: it never opens the DKIM keys (compose mounts them into mx only)
  const built = await buildEngine(config, { registry: opts.registry, logger: opts.logger, compiled: compileConfig(config, { dkimKeys: false }) });
  const journal = createJournal({ ...journalOptionsFromConfig(config), timeoutMs: 3000, registry: opts.registry, logger: opts.logger.child({ component: 'journal' }) });
  const dir = config.queue.dir;
  const np = config.greylist.network_prefix;
  const rateLimits = createRateLimiter({ ...rateLimiterOptionsFromConfig(config), timeoutMs: 3000, registry: opts.registry, logger: opts.logger.child({ component: 'ratelimit' }) });
  const spamd = config.spamd.enabled
    ? createSpamdClient({
        host: config.spamd.host,
        port: config.spamd.port,
        timeoutMs: config.spamd.timeout,
        connectTimeoutMs: config.spamd.connect_timeout,
        maxConnections: 2,
        registry: opts.registry,
        logger: opts.logger.child({ component: 'spamd' }),
      })
    : undefined;
  return {
    journal,
    learn: spamd && { maxBytes: config.spamd.max_size, run: (message, as) => spamd.learn({ message, as }) },
    greylist: built.greylist,
    dnslist: built.dnslist,
    rateLimits,
    queue: {
      list: () => queueList(dir),
      flush: (ids) => queueFlush(dir, ids),
      hold: (ids) => queueHold(dir, ids),
      release: (ids) => queueRelease(dir, ids),
      delete: (ids) => queueDelete(dir, ids),
    },
    quarantine: quarantineClient(quarantineTargets(views.console(config).metricsUrls), { token: config.quarantine.admin_token }),
    explainAddress: (address) => built.explainAddress(address),
    networkOf: (ip) => clientNetwork(ip, np.v4, np.v6),
    async close() {
      spamd?.close();
      await journal.close();
      await rateLimits.close();
      await built.close();
    },
  };
}
