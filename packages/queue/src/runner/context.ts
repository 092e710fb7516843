// The queue manager's options, their Postfix defaults, and what its parts share (queue, clock, log, metrics).
// Trusts its caller's options; durations are ms of the runner's clock unless named as real ms.
import { hostname as osHostname } from 'node:os';
import type { AddressResolver } from '@moat/address';
import type { Logger, Registry } from '@moat/observe';
import type { Clock } from '../clock.ts';
import { type DeliveryMetrics, deliveryMetrics } from '../metrics.ts';
import type { Queue } from '../spool.ts';
import type { NextHopRouter } from '../transports/router.ts';
import type { Transport } from '../transports/types.ts';

export interface DeliveryOptions {
  queue: Queue;
  /**
   * For recipients without a next hop (envelope v1, from before routing): `local` is queue.transport,
   * `relay` the outbound MX-lookup path (optional).
   */
  transports: { local: Transport; relay?: Transport };
  /** Transports by next hop, for recipients that carry one (envelope v2). */
  router?: NextHopRouter | undefined;
  /**
   * The address resolver: DSNs and delay warnings go where their recipient (the original sender)
   * resolves to, like any mail (a local sender's bounce is delivered locally). Without it, `bounceRoute`.
   */
  resolver?: Pick<AddressResolver, 'resolve' | 'classify' | 'route'> | undefined;
  registry: Registry;
  logger?: Logger;
  /** Messages in delivery at once (default 10). */
  concurrency?: number;
  /** Deliveries in flight per destination (next hop or recipient domain; default 10). */
  perDestinationConcurrency?: number;
  /** Postfix minimal_backoff_time / maximal_backoff_time (defaults 5 min, 1 h), ms. */
  backoff?: { first?: number; max?: number };
  /** Postfix delay_warning_time (default 1 h; 0 = never), ms. */
  delayWarningAfter?: number;
  /** Postfix maximal_queue_lifetime (default 7 d), ms. */
  maxLifetime?: number;
  /** Our name in DSNs (default os.hostname()). */
  hostname?: string;
  /** From: of DSNs (default MAILER-DAEMON@hostname). */
  bounceFrom?: string;
  /** How DSNs leave when there is no resolver (default `relay` when a relay transport exists, else `local`). */
  bounceRoute?: 'local' | 'relay';
  clock?: Clock;
  /** How often to look at incoming/ for work from other processes, real ms (default 1000). */
  scanIntervalMs?: number;
  /**
   * How often the timer also looks through deferred/ for due messages, real ms (default 10 s; Postfix:
   * queue_run_delay). kick(true) and idle() look at once.
   */
  deferredScanMs?: number;
  /** Recipients per delivery to one destination (Postfix default_destination_recipient_limit, default 50). */
  recipientLimit?: number;
  /**
   * After a destination could not be reached at all, defer its mail without trying for this long
   * (clock ms, default 60 s; 0 = always try).
   */
  deadDestinationMs?: number;
  /** Bytes of queue files in delivery at once (they are held in memory; default 256 MiB, one always fits). */
  memoryBudget?: number;
}

export interface DeliveryRunner {
  /** This runner's claim tag (files it holds are `active/<id>.<owner>`). */
  readonly owner: string;
  /**
   * Look for new mail now (incoming/; cheap, call it after every enqueue). `deferred: true` also looks
   * through deferred/ for due retries, which costs a stat per deferred file.
   */
  kick(deferred?: boolean): void;
  /** Resolves when a scan found nothing due and nothing is in flight. */
  idle(): Promise<void>;
  /** Deliveries in flight now (the memory upkeep waits for none: its pause would stall their lookups). */
  inFlight(): number;
  stop(): Promise<void>;
}

/** The options with their defaults, and the shared pieces every part of the runner uses. */
export interface RunnerContext {
  readonly opts: DeliveryOptions;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: DeliveryMetrics;
  readonly concurrency: number;
  readonly perDest: number;
  readonly firstBackoff: number;
  readonly maxBackoff: number;
  readonly delayWarningAfter: number;
  readonly maxLifetime: number;
  readonly hostname: string;
  readonly bounceFrom: string;
  readonly bounceRoute: 'local' | 'relay';
  readonly deferredScanMs: number;
  readonly recipientLimit: number;
  readonly deadDestinationMs: number;
  readonly memoryBudget: number;
}

export function runnerContext(opts: DeliveryOptions): RunnerContext {
  const { queue } = opts;
  const hostname = opts.hostname ?? osHostname();
  return {
    opts,
    queue,
    clock: opts.clock ?? queue.clock,
    log: (opts.logger ?? queue.logger).child({ module: 'qmgr' }),
    concurrency: opts.concurrency ?? 10,
    perDest: opts.perDestinationConcurrency ?? 10,
    firstBackoff: opts.backoff?.first ?? 5 * 60_000,
    maxBackoff: opts.backoff?.max ?? 60 * 60_000,
    delayWarningAfter: opts.delayWarningAfter ?? 60 * 60_000,
    maxLifetime: opts.maxLifetime ?? 7 * 24 * 60 * 60_000,
    hostname,
    bounceFrom: opts.bounceFrom ?? `MAILER-DAEMON@${hostname}`,
    bounceRoute: opts.bounceRoute ?? (opts.transports.relay ? 'relay' : 'local'),
    metrics: deliveryMetrics(opts.registry),
    deferredScanMs: opts.deferredScanMs ?? 10_000,
    recipientLimit: Math.max(1, opts.recipientLimit ?? 50),
    deadDestinationMs: opts.deadDestinationMs ?? 60_000,
    memoryBudget: opts.memoryBudget ?? 256 * 1024 * 1024,
  };
}
