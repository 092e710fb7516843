// Redis connections for moat's shared state (greylist, journal, rate limits): the one target type (@moat/config's
// views.redis makes it from moat.yaml) and fail-fast clients. Trusts the Redis it is pointed at; never queues while it is down.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { keepConnecting } from './keep-connecting.ts';

/** Where the shared store is: a URL, Sentinels with a master name, or Redis Cluster seeds. The one definition:
 * @moat/config's `RedisView` is this type less the cluster form (moat.yaml has no cluster key yet). */
export type RedisTarget =
  | { url: string }
  | {
      sentinels: { host: string; port: number }[];
      /** The master name the sentinels monitor. */
      name: string;
      /** The master's and replicas' login (`requirepass`, or a Redis 6 ACL user). */
      username?: string | undefined;
      password?: string | undefined;
      /** The Sentinels' own login (their `requirepass`, or an ACL user on them). */
      sentinelUsername?: string | undefined;
      sentinelPassword?: string | undefined;
    }
  | {
      /** Redis Cluster seed nodes: each caller keeps one operation's keys under one hash tag. */
      cluster: { host: string; port: number }[];
      password?: string | undefined;
    };

export type RedisClient = Redis | Cluster;

/**
 * A client that fails fast while Redis is away (no offline queue, no resend, no per-request retries) and
 * reconnects forever, backing off to 2 s: callers fail open meanwhile instead of waiting or piling up.
 */
export function connectRedis(
  target: RedisTarget,
  opts: { connectionName: string; connectTimeoutMs: number; autoPipelining?: boolean },
): RedisClient {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: opts.connectTimeoutMs,
    retryStrategy: (times: number) => Math.min(50 * times, 2000),
    sentinelRetryStrategy: (times: number) => Math.min(50 * times, 2000),
    connectionName: opts.connectionName,
    // concurrent callers share one write and one read syscall instead of one each
    enableAutoPipelining: opts.autoPipelining ?? false,
  };
  if ('url' in target) {
    const client = new Redis(target.url, common);
    keepConnecting(client);
    return client;
  }
  if ('cluster' in target) {
    const { enableOfflineQueue, retryStrategy, enableAutoPipelining, ...perNode } = common;
    return new Cluster(target.cluster, {
      enableOfflineQueue,
      enableAutoPipelining,
      clusterRetryStrategy: retryStrategy as (times: number) => number,
      redisOptions: { ...perNode, password: target.password },
      // slots move during resharding/failover: follow MOVED/ASK a few times within the budget
      maxRedirections: 4,
    });
  }
  const client = new Redis({
    ...common,
    // a subscription to the Sentinels' +switch-master: the client leaves a demoted or dead master at once
    // (a killed host sends no reset; without this the socket stays "ready" until TCP gives up)
    failoverDetector: true,
    sentinels: target.sentinels,
    name: target.name,
    username: target.username,
    password: target.password,
    sentinelUsername: target.sentinelUsername,
    sentinelPassword: target.sentinelPassword,
  });
  // a +switch-master during a reconnect aborts it, and ioredis would then stop trying (status 'end')
  keepConnecting(client);
  return client;
}

export { firstReadyGate } from './ready-gate.ts';
export { type OutageOptions, type OutageTracker, trackOutage } from './outage.ts';
export { type StallGuard, stallGuard } from './stall-guard.ts';
export { withTimeout } from './timeout.ts';
/** A target as an operator reads it, credentials masked: `redis://***@host:6379/0`, `sentinels a:1,b:2 (master mymaster)`. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: readonly { host: string; port: number }[]) => nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',');
  if ('url' in target) return target.url.replace(/^([a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
  if ('cluster' in target) return `cluster ${list(target.cluster)}`;
  return `sentinels ${list(target.sentinels)} (master ${target.name})`;
}
