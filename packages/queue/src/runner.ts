// The queue manager: claims due messages by rename, delivers per recipient, retries with backoff, sends DSNs.
// Trusts the spool and the transports' per-recipient results; never bounces to the null sender.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readdir, stat, unlink, utimes } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { AddressResolver } from '@moat/address';
import type { Logger, Registry } from '@moat/observe';
import type { Clock } from './clock.ts';
import { buildDsn } from './dsn.ts';
import { queueRecipients } from './final-recipient.ts';
import { maySign } from './signable.ts';
import { type DeliveryMetrics, deliveryMetrics } from './metrics.ts';
import type { Envelope, RecipientRecord } from './record.ts';
import type { Claimed, Queue } from './spool.ts';
import type { NextHopRouter } from './transports/router.ts';
import type { RecipientResult, Transport } from './transports/types.ts';
import type { RecipientInfo } from './types.ts';

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
  resolver?: Pick<AddressResolver, 'resolve' | 'classify'> | undefined;
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
  stop(): Promise<void>;
}

interface Semaphore {
  active: number;
  waiters: (() => void)[];
}

/** Owner tags of the runners alive in this thread (several may share a spool, e.g. in tests). */
const liveOwners = new Set<string>();

/**
 * Where the queue lifetime and the delay warning count from: a message released from the quarantine starts
 * its queue life at its release (it waited for an operator, not for a next hop: no instant bounce of a
 * 20-day-old release, no delay warning to a sender who never waited on us).
 */
const queuedSince = (env: Envelope): number => env.released?.time ?? env.arrival;

const HEARTBEAT_MS = 30_000;
const OWNER_STALE_MS = 5 * 60_000;

/**
 * When a process started (clock ticks since boot, /proc/<pid>/stat field 22), shared by all its threads:
 * tells an earlier life of a reused pid from a live process. null where /proc is missing.
 */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const myStart = processStart(process.pid);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startDelivery(opts: DeliveryOptions): Promise<DeliveryRunner> {
  const { queue } = opts;
  const clock = opts.clock ?? queue.clock;
  const log = (opts.logger ?? queue.logger).child({ module: 'qmgr' });
  const concurrency = opts.concurrency ?? 10;
  const perDest = opts.perDestinationConcurrency ?? 10;
  const firstBackoff = opts.backoff?.first ?? 5 * 60_000;
  const maxBackoff = opts.backoff?.max ?? 60 * 60_000;
  const delayWarningAfter = opts.delayWarningAfter ?? 60 * 60_000;
  const maxLifetime = opts.maxLifetime ?? 7 * 24 * 60 * 60_000;
  const hostname = opts.hostname ?? osHostname();
  const bounceFrom = opts.bounceFrom ?? `MAILER-DAEMON@${hostname}`;
  const bounceRoute = opts.bounceRoute ?? (opts.transports.relay ? 'relay' : 'local');
  const metrics: DeliveryMetrics = deliveryMetrics(opts.registry);
  // pid-start-random: the pid and its start time say whether the owner still lives, the random part which runner.
  const owner = `${process.pid}-${myStart ?? 0}-${randomBytes(4).toString('hex')}`;
  const activeDir = join(queue.dir, 'active');
  const heartbeat = join(activeDir, `.owner.${owner}`);
  const deferredScanMs = opts.deferredScanMs ?? 10_000;
  const recipientLimit = Math.max(1, opts.recipientLimit ?? 50);
  const deadDestinationMs = opts.deadDestinationMs ?? 60_000;
  const memoryBudget = opts.memoryBudget ?? 256 * 1024 * 1024;
  let bytesInFlight = 0;
  const deadUntil = new Map<string, { until: number; reason: string }>();
  let lastDeferredScan = 0;
  let deferredBacklog = false;
  const knownIncoming = new Set<string>();
  let rereadIncoming = true;
  let lastIncomingRead = 0;

  const inFlight = new Map<string, Promise<void>>();
  const sems = new Map<string, Semaphore>();
  let stopping = false;
  let scanning: Promise<void> | null = null;
  let rescan = false;
  let idleWaiters: (() => void)[] = [];

  // Heartbeat: other runners on this spool leave our active/ files alone while it is fresh and we live.
  liveOwners.add(owner);
  await (await open(heartbeat, 'w', 0o600)).close();
  const beat = setInterval(() => {
    const t = Date.now() / 1000;
    utimes(heartbeat, t, t).catch(() => undefined);
    recover().catch((e) => log.error({ err: (e as Error).message }, 'recovery failed'));
  }, HEARTBEAT_MS);
  beat.unref();

  /** Files in active/ whose runner is gone (crash) go back to incoming/. */
  async function recover(): Promise<void> {
    const names = await readdir(activeDir);
    const alive = new Map<string, boolean>();
    const isAlive = async (o: string): Promise<boolean> => {
      if (o === owner) return true;
      const cached = alive.get(o);
      if (cached !== undefined) return cached;
      let ok = false;
      const m = /^(\d+)-(?:(\d+)-)?[0-9a-f]+$/.exec(o);
      const pid = Number(m?.[1] ?? Number.NaN);
      const start = m?.[2];
      if (liveOwners.has(o)) ok = true;
      else if (pid === process.pid && start !== undefined && myStart !== null && start !== myStart) {
        ok = false; // an earlier life of this pid (a restarted container's pid 1)
      } else if (Number.isFinite(pid) && pidAlive(pid)) {
        const now = start !== undefined && start !== '0' ? processStart(pid) : null;
        if (now !== null && now !== start) ok = false; // the pid was reused by another process
        else {
          try {
            ok = Date.now() - (await stat(join(activeDir, `.owner.${o}`))).mtimeMs < OWNER_STALE_MS;
          } catch {
            ok = false;
          }
        }
      }
      alive.set(o, ok);
      return ok;
    };
    for (const n of names) {
      if (n.startsWith('.owner.')) {
        const o = n.slice('.owner.'.length);
        if (!(await isAlive(o))) await unlink(join(activeDir, n)).catch(() => undefined);
        continue;
      }
      if (n.startsWith('.')) continue;
      const o = n.slice(n.indexOf('.') + 1);
      if (n.indexOf('.') < 0 || !(await isAlive(o))) {
        try {
          await queue.unclaim(n);
          log.warn({ queueId: n.split('.')[0], owner: o }, 'recovered message left in active/ by a dead runner');
        } catch {
          /* another runner recovered it first */
        }
      }
    }
  }
  await recover();

  async function acquire(key: string): Promise<() => void> {
    let s = sems.get(key);
    if (!s) {
      s = { active: 0, waiters: [] };
      sems.set(key, s);
    }
    const sem = s;
    if (sem.active >= perDest) await new Promise<void>((r) => sem.waiters.push(r));
    else sem.active++;
    return () => {
      const next = sem.waiters.shift();
      if (next) next();
      else {
        sem.active--;
        if (sem.active === 0) sems.delete(key);
      }
    };
  }

  function backoffFor(attempts: number): number {
    return Math.min(maxBackoff, firstBackoff * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  }

  async function safeDeliver(t: Transport, c: Claimed, recipients: string[], extensions: ReadonlyMap<string, string>): Promise<RecipientResult[]> {
    let results: RecipientResult[];
    try {
      results = await t.deliver({
        id: c.id,
        sender: c.envelope.sender,
        recipients,
        message: c.message,
        ...(extensions.size ? { extensions } : {}),
        ...(maySign(c.envelope) ? {} : { unsigned: true }),
      });
    } catch (e) {
      results = [];
      log.error({ queueId: c.id, transport: t.name, err: (e as Error).message }, 'transport threw');
    }
    const seen = new Set(results.map((r) => r.recipient));
    for (const r of recipients) {
      if (!seen.has(r)) {
        results.push({ recipient: r, status: 'deferred', code: 451, enhanced: '4.3.0', response: '451 4.3.0 transport gave no result', relay: t.name });
      }
    }
    return results;
  }

  /**
   * Where a DSN to `sender` goes. With a resolver: the sender's final recipients and next hops (a local
   * sender's bounce is delivered locally, an alias's to its targets); a sender that does not exist
   * here gets none (Postfix would bounce the bounce to the double-bounce address, discarded by default);
   * a lookup failure falls back to the route its class implies. Without a resolver: `bounceRoute`.
   */
  function dsnRecipients(
    queueId: string,
    sender: string,
  ): { recipients: string[]; route: 'local' | 'relay'; recipientInfo?: Map<string, RecipientInfo>; nextHops?: string[] } | null {
    if (!opts.resolver) return { recipients: [sender], route: bounceRoute };
    const res = opts.resolver.resolve(sender);
    if (res.ok) {
      // a sender that resolves to error: (an unknown user, as the resolver reports it) has no mailbox here
      const rcpts = queueRecipients(sender, res).filter((r) => r.info.nextHop?.transport !== 'error');
      if (rcpts.length > 0) {
        return {
          recipients: rcpts.map((r) => r.address),
          route: res.class === 'remote' ? 'relay' : 'local',
          recipientInfo: new Map(rcpts.map((r) => [r.address, r.info])),
          nextHops: rcpts.map((r) => r.info.nextHop?.raw ?? ''),
        };
      }
    }
    if (!res.ok && res.reason === 'lookup-failure') {
      const route = res.class === 'remote' ? 'relay' : 'local';
      log.warn({ queueId, sender, route, reason: res.reason, status: res.status }, 'dsn recipient lookup failed; queued by address class');
      return { recipients: [sender], route };
    }
    log.info({ queueId, sender, reason: res.ok ? 'empty-expansion' : res.reason }, 'dsn not sent: the sender has no mailbox here');
    return null;
  }

  async function sendDsn(c: Claimed, kind: 'failed' | 'delayed', recipients: RecipientRecord[], now: number): Promise<void> {
    const env = c.envelope;
    if (env.sender === '' || env.kind !== 'mail') {
      // Never a DSN to the null sender (RFC 5321 6.1) nor about a DSN: that way lie mail loops.
      metrics.bounces.inc({ kind: 'dropped' });
      log.info({ queueId: c.id, dsn: kind, nrcpt: recipients.length, reason: env.sender === '' ? 'null sender' : 'message is a DSN' }, 'dsn not sent');
      return;
    }
    const message = buildDsn({
      kind,
      hostname,
      bounceFrom,
      envelope: env,
      message: c.message,
      recipients,
      now,
      willRetryUntil: queuedSince(env) + maxLifetime,
    });
    const to = dsnRecipients(c.id, env.sender);
    if (!to) {
      metrics.bounces.inc({ kind: 'dropped' });
      return;
    }
    const { id } = await queue.enqueue(
      { sender: '', message, meta: { 'dsn-for': c.id }, ...to },
      { kind: kind === 'failed' ? 'bounce' : 'delay' },
    );
    metrics.bounces.inc({ kind });
    log.info(
      { queueId: c.id, dsn: kind, dsnQueueId: id, sender: env.sender, nrcpt: recipients.length, to: to.recipients, route: to.route, nextHop: to.nextHops },
      'dsn queued',
    );
  }

  /**
   * A v1 recipient of the `local` route (queued before routing existed) goes where it resolves now,
   * when it resolves to exactly itself: older gateways queued remote addresses as local, and the
   * maildir no longer takes them. Anything else keeps the legacy local transport.
   */
  function legacyHop(env: Claimed['envelope'], address: string): Pick<RecipientRecord, 'nextHop' | 'class'> & { nextHop: NonNullable<RecipientRecord['nextHop']> } | undefined {
    if (!opts.resolver || !opts.router || env.route !== 'local') return undefined;
    const res = opts.resolver.resolve(address);
    if (!res.ok) return undefined;
    const [only, ...more] = queueRecipients(address, res);
    if (!only?.info.nextHop || more.length > 0 || only.address.toLowerCase() !== address.toLowerCase()) return undefined;
    return { nextHop: only.info.nextHop, class: only.info.class };
  }

  async function deliverMessage(c: Claimed): Promise<void> {
    const env = c.envelope;
    const started = clock.now();
    env.attempts++;
    const pending = env.recipients.filter((r) => r.state === 'pending');
    const bouncedNow: RecipientRecord[] = [];
    // Each recipient's transport: its next hop (envelope v2), else the envelope's route (v1).
    const byTransport = new Map<Transport, Map<string, string[]>>();
    const extensions = new Map<string, string>();
    for (const r of pending) {
      let transport: Transport | undefined;
      const hop = r.nextHop ? { nextHop: r.nextHop, class: r.class } : legacyHop(env, r.address);
      if (hop && opts.router) {
        // outbound mail is signed; a recipient of unknown class through an MX lookup is outbound (as v1's relay route)
        const sign = hop.class === 'remote' || (hop.class === undefined && hop.nextHop.transport === 'smtp' && hop.nextHop.mx);
        transport = opts.router.transportFor(hop.nextHop, sign);
      } else if (!r.nextHop) transport = env.route === 'relay' ? opts.transports.relay : opts.transports.local;
      if (!transport) {
        r.lastError = r.nextHop ? '451 4.3.5 no next-hop router configured' : '451 4.3.5 no relay transport configured';
        r.status = '4.3.5';
        metrics.deliveries.inc({ transport: r.nextHop?.transport ?? 'relay', result: 'deferred' });
        log.warn(
          { queueId: c.id, recipient: r.address, relay: 'none', status: 'deferred', delay: (clock.now() - env.arrival) / 1000, attempt: env.attempts, response: r.lastError },
          'delivery attempt',
        );
        continue;
      }
      if (r.extension) extensions.set(r.address, r.extension);
      const byDest = byTransport.get(transport) ?? new Map<string, string[]>();
      byTransport.set(transport, byDest);
      const d = transport.destination(r.address);
      byDest.set(d, [...(byDest.get(d) ?? []), r.address]);
    }
    const groups: [Transport, string, string[]][] = [];
    for (const [transport, byDest] of byTransport) {
      for (const [dest, rcpts] of byDest) {
        for (let i = 0; i < rcpts.length; i += recipientLimit) groups.push([transport, dest, rcpts.slice(i, i + recipientLimit)]);
      }
    }
    if (groups.length > 0) {
      const all = await Promise.all(
        groups.map(async ([transport, dest, rcpts]) => {
          const release = await acquire(dest);
          try {
            const dead = deadUntil.get(dest);
            if (dead && dead.until > clock.now()) {
              // Postfix's "delivery temporarily suspended": do not hammer a next hop that just failed.
              return rcpts.map(
                (recipient): [RecipientResult, Transport] => [
                  { recipient, status: 'deferred', response: `delivery temporarily suspended: ${dead.reason}`, relay: dest },
                  transport,
                ],
              );
            }
            const res = await safeDeliver(transport, c, rcpts, extensions);
            // No reply code at all: we could not talk to it (connect, TLS, timeout).
            if (res.every((r) => r.status === 'deferred' && r.code === undefined)) {
              deadUntil.set(dest, { until: clock.now() + deadDestinationMs, reason: res[0]?.response ?? 'unreachable' });
            } else deadUntil.delete(dest);
            return res.map((r): [RecipientResult, Transport] => [r, transport]);
          } finally {
            release();
          }
        }),
      );
      const now = clock.now();
      for (const [res, transport] of all.flat()) {
        const rec = env.recipients.find((r) => r.address === res.recipient && r.state === 'pending');
        if (!rec) continue;
        rec.relay = res.relay;
        if (res.code !== undefined) rec.code = res.code;
        if (res.enhanced) rec.status = res.enhanced;
        else delete rec.status;
        rec.lastError = res.response.replace(/[\r\n]+/g, ' ').slice(0, 1000);
        if (res.status === 'sent') rec.state = 'sent';
        if (res.status === 'bounced') {
          rec.state = 'bounced';
          bouncedNow.push(rec);
        }
        metrics.deliveries.inc({ transport: transport.name, result: res.status });
        if (res.status !== 'deferred') metrics.latency.observe({ transport: transport.name }, Math.max(0, now - env.arrival) / 1000);
        if (res.alert) {
          metrics.alerts.inc({ transport: transport.name, reason: res.alert });
          log.error({ queueId: c.id, recipient: res.recipient, relay: res.relay, alert: res.alert, response: res.response }, 'delivery refused by configuration');
        }
        log.info(
          {
            queueId: c.id,
            recipient: res.recipient,
            ...(rec.original ? { original: rec.original } : {}),
            transport: transport.name,
            relay: res.relay,
            status: res.status,
            dsn: res.enhanced,
            delay: Math.max(0, now - env.arrival) / 1000,
            attempt: env.attempts,
            response: res.response,
          },
          'delivery attempt',
        );
      }
    }
    const now = clock.now();
    let left = env.recipients.filter((r) => r.state === 'pending');
    if (left.length > 0 && now - queuedSince(env) >= maxLifetime) {
      for (const r of left) {
        r.state = 'bounced';
        r.status = r.status?.startsWith('4.') ? r.status : '4.4.7';
        r.lastError = `delivery time expired; last error: ${r.lastError ?? 'none'}`;
        bouncedNow.push(r);
        log.info({ queueId: c.id, recipient: r.address, status: 'expired', delay: (now - env.arrival) / 1000 }, 'giving up');
      }
      left = [];
    }
    // A DSN is durably queued before the original's new state is: a crash may duplicate it, never lose it.
    if (bouncedNow.length) await sendDsn(c, 'failed', bouncedNow, now);
    if (left.length === 0) {
      await queue.finish(c);
      log.info({ queueId: c.id, attempts: env.attempts, ms: now - started }, 'removed');
      return;
    }
    env.lastError = left[left.length - 1]?.lastError;
    if (delayWarningAfter > 0 && !env.warned && now - queuedSince(env) >= delayWarningAfter) {
      await sendDsn(c, 'delayed', left, now);
      env.warned = true;
    }
    const next = now + backoffFor(env.attempts);
    await queue.defer(c, next);
    log.info({ queueId: c.id, pending: left.length, attempts: env.attempts, nextRetry: new Date(next).toISOString() }, 'deferred');
  }

  async function runClaimed(c: Claimed): Promise<void> {
    try {
      await deliverMessage(c);
    } catch (e) {
      log.error({ queueId: c.id, err: (e as Error).message }, 'delivery bookkeeping failed; deferring');
      try {
        await queue.defer(c, clock.now() + firstBackoff);
      } catch (e2) {
        // Left in active/ under our name: the next start (or another runner after we die) recovers it.
        log.error({ queueId: c.id, err: (e2 as Error).message }, 'could not defer; left in active/');
      }
    }
  }

  /** Alternate new and retried mail, so a flood of new mail cannot starve the deferred queue (or the reverse). */
  function* candidates(due: string[]): Generator<['incoming' | 'deferred', string]> {
    const inc = knownIncoming.values();
    let d = 0;
    for (;;) {
      const next = inc.next();
      if (!next.done) yield ['incoming', next.value];
      if (d < due.length) yield ['deferred', due[d++]!];
      if (next.done && d >= due.length) return;
    }
  }

  async function scanOnce(withDeferred: boolean): Promise<boolean> {
    let started = false;
    const now = clock.now();
    if (withDeferred) lastDeferredScan = Date.now();
    // incoming/ is listed when asked (timer, kick, idle) or when we know of nothing; in between, the ids
    // from that listing and from our own enqueues are used: no directory listing per delivered message.
    if (knownIncoming.size === 0 || (rereadIncoming && Date.now() - lastIncomingRead >= 20)) {
      rereadIncoming = false;
      lastIncomingRead = Date.now();
      for (const n of await queue.names('incoming')) knownIncoming.add(n);
    }
    const due = withDeferred ? await queue.due(now) : [];
    if (withDeferred) deferredBacklog = false;
    for (const [from, id] of candidates(due)) {
      if (stopping || inFlight.size >= concurrency) {
        // Due work left over: look again as soon as a slot frees up.
        if (withDeferred) deferredBacklog = true;
        break;
      }
      if (from === 'incoming') knownIncoming.delete(id);
      if (inFlight.has(id)) continue;
      // Messages are held in memory while delivered: keep the sum under the budget (one always fits).
      let size = 0;
      try {
        size = (await stat(join(queue.dir, from, id))).size;
      } catch {
        continue; // taken by someone else meanwhile
      }
      if (inFlight.size > 0 && bytesInFlight + size > memoryBudget) {
        if (from === 'incoming') knownIncoming.add(id);
        if (withDeferred) deferredBacklog = true;
        break;
      }
      const c = await queue.claim(from, id, owner);
      if (!c) continue;
      started = true;
      bytesInFlight += size;
      const job = runClaimed(c).finally(() => {
        inFlight.delete(id);
        bytesInFlight -= size;
        kick(deferredBacklog || Date.now() - lastDeferredScan >= deferredScanMs, false);
      });
      inFlight.set(id, job);
    }
    return started;
  }

  function settleIdle(): void {
    if (inFlight.size === 0 && !scanning) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  }

  let wantDeferred = false;
  /** Scan now; `full` also looks through deferred/; `reread` lists incoming/ again (new mail from elsewhere). */
  function kick(full = true, reread = true): void {
    if (stopping) return;
    if (full) wantDeferred = true;
    if (reread) rereadIncoming = true;
    if (scanning) {
      rescan = true;
      return;
    }
    scanning = (async () => {
      do {
        rescan = false;
        const withDeferred = wantDeferred;
        wantDeferred = false;
        try {
          await scanOnce(withDeferred);
        } catch (e) {
          log.error({ err: (e as Error).message }, 'queue scan failed');
        }
      } while (rescan && !stopping);
    })().finally(() => {
      scanning = null;
      settleIdle();
    });
  }

  const offEnqueue = queue.onEnqueue((id) => {
    knownIncoming.add(id);
    kick(false, false);
  });
  // Not unref'd: a running queue manager keeps its process alive until stop().
  const timer = setInterval(() => kick(Date.now() - lastDeferredScan >= deferredScanMs, true), opts.scanIntervalMs ?? 1000);
  kick();
  log.info({ owner, concurrency, perDest, firstBackoff, maxBackoff, delayWarningAfter, maxLifetime }, 'delivery started');

  return {
    owner,
    kick: (deferred = false) => kick(deferred, true),
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        kick();
      });
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      clearInterval(beat);
      offEnqueue();
      await scanning;
      await Promise.all(inFlight.values());
      await unlink(heartbeat).catch(() => undefined);
      liveOwners.delete(owner);
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
      log.info({ owner }, 'delivery stopped');
    },
  };
}
