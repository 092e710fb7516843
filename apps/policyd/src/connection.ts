// One Postfix smtpd connection: read requests, answer them in order, one at a time, with the socket's timeouts.
// Every byte read is untrusted (size-capped by the reader); a client that does not read its replies is paused, then dropped.
import type { Socket } from 'node:net';
import type { PolicydView as PolicydSettings } from '@moat/config';
import type { Logger } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { type DecisionMetrics, type DecisionSink, recordDecision } from '@moat/runtime';
import { toAction } from './actions.ts';
import { ConnectionTimeout } from './connection-timeout.ts';
import { DecisionTimeoutError, type Decider } from './deadline.ts';
import { toFacts } from './facts.ts';
import type { PolicydMetrics } from './metrics.ts';
import { type Attributes, RequestReader } from './protocol.ts';

/** Requests read but not yet answered on one connection before we stop reading from it. */
const maxQueued = 32;
/** Bytes of unread replies we hold for a client before we stop reading its requests. */
const maxUnsentBytes = 64 * 1024;

/** What every connection of one server shares. */
export interface ConnectionContext {
  settings: PolicydSettings;
  decider: Decider;
  logger: Logger;
  metrics: PolicydMetrics;
  decisions: DecisionMetrics;
  replyCode: (verdict: Verdict) => number;
  sink: DecisionSink | undefined;
  /** Sockets with a request being answered (close() lets them finish). */
  busy: Set<Socket>;
  closing(): boolean;
  /** The clock of the connections' activity stamps (default performance.now(); tests inject theirs). */
  now?: (() => number) | undefined;
}

/** Serve one accepted socket; `overloaded`: answer the first request with overloadAction, then end. */
export function serveConnection(ctx: ConnectionContext, socket: Socket, id: string, overloaded: boolean): TimedConnection {
  const { settings, metrics, busy } = ctx;
  const now = ctx.now ?? (() => performance.now());
  const log = ctx.logger.child({ conn: id, peer: socket.remoteAddress });
  const reader = new RequestReader({ maxLine: settings.maxLine, maxRequest: settings.maxRequest });
  const queue: Attributes[] = [];
  let running = false;
  // the mail transaction (Postfix's instance attribute) and the headers already prepended in it (made on first use)
  let txn: { instance: string; headers: Set<string> | undefined } | undefined;
  let peerEnded = false;
  let endedByUs = false;

  const drop = (reason: string, detail: string) => {
    metrics.errors.inc({ reason });
    log.warn({ reason, detail }, 'policy connection dropped');
    queue.length = 0;
    socket.destroy();
  };
  const reply = (action: string) => {
    const sp = action.indexOf(' ');
    metrics.replies.inc({ action: action.slice(0, sp < 0 ? 20 : Math.min(sp, 20)) });
    timeout.touch(now());
    return socket.write(`action=${action}\n\n`);
  };
  // Checked by the server's one sweep (check(), below), stamped on each read, reply, drain and end.
  const timeout = new ConnectionTimeout(settings.idleTimeoutMs, now());
  /** The timeout of the connection's current state: a request half read, or idle (an ending one keeps its 5 s). */
  const armTimer = () => {
    if (!endedByUs) timeout.set(reader.midRequest ? settings.requestTimeoutMs : settings.idleTimeoutMs);
  };
  /** Read again once the queue and the unsent replies are down (a paused socket is not timed out for it). */
  const maybeResume = () => {
    if (socket.isPaused() && queue.length < maxQueued / 2 && socket.writableLength < maxUnsentBytes) socket.resume();
  };

  /**
   * Answer one request: at once (DUNNO, a broken request), returning false, or when the engine has decided,
   * returning true: then `next()` is called after the reply. Callbacks, not async functions: per request.
   */
  function answer(attrs: Attributes): boolean {
    const r = toFacts(attrs, settings.stages);
    if (r.kind === 'dunno') {
      reply('DUNNO');
      return false;
    }
    if (r.kind === 'invalid') {
      drop('invalid-request', r.why);
      return false;
    }
    const facts = r.facts;
    const instance = attrs.instance ?? '';
    if (!txn || txn.instance !== instance) txn = { instance, headers: undefined };
    const transaction = txn;
    const t0 = performance.now();
    ctx.decider.decide(
      facts,
      (err, verdict) => {
        const action = onDecided(ctx, log, { facts, transaction, queueId: attrs.queue_id, t0 }, err, verdict);
        if (action === undefined) socket.destroy(); // Postfix retries, then applies smtpd_policy_service_default_action
        else reply(action);
        next();
      },
      t0,
    );
    return true;
  }

  /** Start answering what is queued (one request at a time, in order). */
  function pump(): void {
    if (running) return;
    running = true;
    busy.add(socket);
    armTimer();
    work();
  }

  /** After an answer: read again if the queue has room. */
  function next(): void {
    maybeResume();
    work();
  }

  function work(): void {
    while (queue.length > 0 && !socket.destroyed) {
      const attrs = queue.shift()!;
      if (overloaded) {
        reply(settings.overloadAction);
        queue.length = 0;
        endSoon();
        break;
      }
      if (answer(attrs)) return; // next() goes on
      maybeResume();
    }
    running = false;
    busy.delete(socket);
    if ((ctx.closing() || peerEnded) && !socket.destroyed && !endedByUs) endSoon();
    if (!socket.destroyed) armTimer();
  }

  socket.on('data', (chunk: Buffer) => {
    timeout.touch(now());
    for (const r of reader.push(chunk)) {
      if (r.kind === 'error') return drop(r.error, r.detail);
      queue.push(r.attrs);
    }
    if (queue.length >= maxQueued || socket.writableLength >= maxUnsentBytes) socket.pause();
    if (queue.length > 0) pump();
    else armTimer();
  });
  socket.on('drain', () => {
    timeout.touch(now()); // a client reading its replies is active (as Node's socket timer, reset on write completion)
    maybeResume();
  });
  function endSoon(at = now()): void {
    // end() only half-closes: a peer that never reads our FIN or closes would hold the slot forever.
    endedByUs = true;
    socket.end();
    timeout.set(Math.min(5000, settings.idleTimeoutMs));
    timeout.touch(at);
  }
  const onTimeout = (at: number) => {
    if (endedByUs) {
      socket.destroy();
      return;
    }
    if (running) return;
    if (reader.midRequest) drop('request-timeout', `no blank line within ${settings.requestTimeoutMs} ms`);
    else if (socket.writableLength > 0) drop('client-not-reading', `${socket.writableLength} bytes of replies unread`);
    else {
      log.debug('idle policy connection closed');
      endSoon(at);
    }
  };
  socket.on('end', () => {
    // Postfix closed its side; answer what is queued (pump ends the socket when done).
    peerEnded = true;
    if (!running && queue.length === 0 && !endedByUs) endSoon();
  });
  socket.on('error', (err) => log.debug({ err: String(err) }, 'policy socket error'));
  socket.setNoDelay(true);
  armTimer();
  return {
    check(now) {
      if (!socket.destroyed && timeout.due(now)) onTimeout(now);
    },
  };
}

/** What answering one request needs to know once the engine has decided. */
interface Pending {
  facts: Facts;
  transaction: { headers: Set<string> | undefined };
  queueId: string | undefined;
  t0: number;
}

/** The reply for a decision (recorded and counted), or undefined: drop the connection (no error_action). */
function onDecided(ctx: ConnectionContext, log: Logger, p: Pending, err: unknown, verdict: Verdict | undefined): string | undefined {
  const { settings, metrics } = ctx;
  const { facts, transaction } = p;
  if (verdict === undefined) {
    const reason = err instanceof DecisionTimeoutError ? 'decision-timeout' : 'engine-error';
    metrics.errors.inc({ reason });
    log.error({ reason, err: String(err), client: facts.clientAddress, session: facts.sessionId }, 'no decision');
    return settings.errorAction || undefined;
  }
  const ms = performance.now() - p.t0;
  const { action, prepended } = toAction(verdict, {
    settings,
    stage: facts.stage,
    code: verdict.action === 'reject' || verdict.action === 'defer' ? ctx.replyCode(verdict) : 250,
    alreadyPrepended: transaction.headers,
  });
  if (prepended) (transaction.headers ??= new Set()).add(prepended);
  recordDecision(log, ctx.decisions, facts, verdict, { ms, reply: action, queueId: p.queueId || undefined, sink: ctx.sink });
  return action;
}

/** What the server's timeout sweep asks of a connection. */
export interface TimedConnection {
  /** Run the connection's timeout if its current one has passed by `now` (the context's clock: performance.now() unless injected). */
  check(now: number): void;
}

/** How often the sweep runs: a quarter of the shortest timeout, within 10 ms to 1 s (a timeout fires up to that late). */
export function sweepInterval(settings: Pick<PolicydSettings, 'requestTimeoutMs' | 'idleTimeoutMs'>): number {
  return Math.max(10, Math.min(1000, Math.min(settings.requestTimeoutMs, settings.idleTimeoutMs, 5000) / 4));
}
