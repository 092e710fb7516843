// The policy server: Postfix smtpd connections in, one `action=` reply per request out, the engine in between.
// Talks to Postfix smtpd processes only (bind it to loopback or a trusted network); every byte read is untrusted.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger, Registry } from '@moat/observe';
import { Counter, Gauge } from '@moat/observe';
import { cidrContains, type Facts, parseIp, type Verdict } from '@moat/policy';
import { createDecisionMetrics, type DecisionSink, recordDecision } from '@moat/runtime';
import { toAction } from './actions.ts';
import { toFacts } from './facts.ts';
import { type Attributes, RequestReader } from './protocol.ts';
import type { PolicydView as PolicydSettings } from '@moat/config';

export interface PolicyServerOptions {
  engine: { evaluate(facts: Facts): Promise<Verdict> };
  settings: PolicydSettings;
  logger: Logger;
  registry: Registry;
  /** SMTP reply code for a reject/defer verdict (@moat/policy's replyCode). */
  replyCode: (verdict: Verdict) => number;
  /** Where decisions go besides the log (the decision journal); never waited for. */
  sink?: DecisionSink | undefined;
}

export interface PolicyServer {
  readonly server: Server;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stop accepting, end idle connections, wait for in-flight answers (at most graceMs), then drop the rest. */
  close(graceMs?: number): Promise<void>;
  connectionCount(): number;
}

interface Metrics {
  connections: InstanceType<typeof Gauge>;
  accepted: InstanceType<typeof Counter<'outcome'>>;
  replies: InstanceType<typeof Counter<'action'>>;
  errors: InstanceType<typeof Counter<'reason'>>;
  refused: InstanceType<typeof Counter>;
}

function metricsOn(registry: Registry): Metrics {
  return {
    connections: new Gauge({ name: 'moat_policyd_connections', help: 'Open policy connections', registers: [registry] }),
    accepted: new Counter({
      name: 'moat_policyd_connections_total',
      help: 'Policy connections by outcome (served, or over max_connections)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    replies: new Counter({
      name: 'moat_policyd_replies_total',
      help: 'Policy replies by Postfix action (first word)',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'moat_policyd_errors_total',
      help: 'Requests or connections dropped, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'moat_policyd_connections_refused_total',
      help: 'Connections from outside policyd.clients, closed before a byte was read',
      registers: [registry],
    }),
  };
}

/** Requests read but not yet answered on one connection before we stop reading from it. */
const maxQueued = 32;
/** Bytes of unread replies we hold for a client before we stop reading its requests. */
const maxUnsentBytes = 64 * 1024;

class TimeoutError extends Error {}

export function createPolicyServer(opts: PolicyServerOptions): PolicyServer {
  const { engine, settings, logger, replyCode } = opts;
  const metrics = metricsOn(opts.registry);
  const decisions = createDecisionMetrics(opts.registry);
  const live = new Set<Socket>();
  const busy = new Set<Socket>();
  let closing = false;
  let seq = 0;

  // Decision timeouts: one coarse sweep for all in-flight decisions instead of a timer per request.
  const inflight = new Set<{ at: number; fail: (e: Error) => void }>();
  const sweep = setInterval(
    () => {
      const limit = performance.now() - settings.decisionTimeoutMs;
      for (const d of inflight) if (d.at <= limit) d.fail(new TimeoutError('decision timed out'));
    },
    Math.max(10, Math.min(1000, settings.decisionTimeoutMs / 4)),
  );
  sweep.unref();
  const decide = (facts: Facts): Promise<Verdict> =>
    new Promise<Verdict>((resolve, reject) => {
      const d = {
        at: performance.now(),
        fail: (e: Error) => {
          inflight.delete(d);
          reject(e);
        },
      };
      inflight.add(d);
      engine.evaluate(facts).then((v) => {
        inflight.delete(d);
        resolve(v);
      }, d.fail);
    });

  function serve(socket: Socket, overloaded: boolean): void {
    const id = (++seq).toString(36);
    const log = logger.child({ conn: id, peer: socket.remoteAddress });
    const reader = new RequestReader({ maxLine: settings.maxLine, maxRequest: settings.maxRequest });
    const queue: Attributes[] = [];
    let running = false;
    let txn: { instance: string; headers: Set<string> } | undefined;
    let peerEnded = false;
    let endedByUs = false;

    const drop = (reason: string, detail: string) => {
      metrics.errors.inc({ reason });
      log.warn({ reason, detail }, 'policy connection dropped');
      queue.length = 0;
      socket.destroy();
    };
    const reply = (action: string) => {
      metrics.replies.inc({ action: action.split(' ', 1)[0]!.slice(0, 20) });
      return socket.write(`action=${action}\n\n`);
    };
    // Node re-arms a socket's timeout on every read and write; only a change of kind needs a call.
    // While a decision runs the timer may fire: the handler ignores it, and the reply re-arms it.
    let armed = -1;
    const armTimer = () => {
      if (endedByUs) return;
      const want = reader.midRequest ? settings.requestTimeoutMs : settings.idleTimeoutMs;
      if (want !== armed) socket.setTimeout((armed = want));
    };

    async function answer(attrs: Attributes): Promise<void> {
      const r = toFacts(attrs, settings.stages);
      if (r.kind === 'dunno') {
        reply('DUNNO');
        return;
      }
      if (r.kind === 'invalid') {
        drop('invalid-request', r.why);
        return;
      }
      const facts = r.facts;
      const instance = attrs.instance ?? '';
      if (!txn || txn.instance !== instance) txn = { instance, headers: new Set() };
      const t0 = performance.now();
      let verdict: Verdict;
      try {
        verdict = await decide(facts);
      } catch (err) {
        const reason = err instanceof TimeoutError ? 'decision-timeout' : 'engine-error';
        metrics.errors.inc({ reason });
        log.error({ reason, err: String(err), client: facts.clientAddress, session: facts.sessionId }, 'no decision');
        if (settings.errorAction) reply(settings.errorAction);
        else socket.destroy(); // Postfix retries, then applies smtpd_policy_service_default_action
        return;
      }
      const ms = performance.now() - t0;
      const { action, prepended } = toAction(verdict, {
        settings,
        stage: facts.stage,
        code: verdict.action === 'reject' || verdict.action === 'defer' ? replyCode(verdict) : 250,
        alreadyPrepended: txn.headers,
      });
      if (prepended) txn.headers.add(prepended);
      recordDecision(log, decisions, facts, verdict, { ms, reply: action, queueId: attrs.queue_id || undefined, sink: opts.sink });
      reply(action);
    }

    async function pump(): Promise<void> {
      if (running) return;
      running = true;
      busy.add(socket);
      armTimer();
      while (queue.length > 0 && !socket.destroyed) {
        const attrs = queue.shift()!;
        if (overloaded) {
          reply(settings.overloadAction);
          queue.length = 0;
          endSoon();
          break;
        }
        await answer(attrs);
        if (socket.isPaused() && queue.length < maxQueued / 2 && socket.writableLength < maxUnsentBytes) socket.resume();
      }
      running = false;
      busy.delete(socket);
      if ((closing || peerEnded) && !socket.destroyed && !endedByUs) endSoon();
      if (!socket.destroyed) armTimer();
    }

    socket.on('data', (chunk: Buffer) => {
      for (const r of reader.push(chunk)) {
        if (r.kind === 'error') return drop(r.error, r.detail);
        queue.push(r.attrs);
      }
      if (queue.length >= maxQueued || socket.writableLength >= maxUnsentBytes) socket.pause();
      if (queue.length > 0) void pump();
      else armTimer();
    });
    socket.on('drain', () => {
      if (socket.isPaused() && queue.length < maxQueued / 2) socket.resume();
    });
    function endSoon(): void {
      // end() only half-closes: a peer that never reads our FIN or closes would hold the slot forever.
      endedByUs = true;
      socket.end();
      socket.setTimeout((armed = Math.min(5000, settings.idleTimeoutMs)));
    }
    socket.on('timeout', () => {
      if (endedByUs) {
        socket.destroy();
        return;
      }
      if (running) return;
      if (reader.midRequest) drop('request-timeout', `no blank line within ${settings.requestTimeoutMs} ms`);
      else if (socket.writableLength > 0) drop('client-not-reading', `${socket.writableLength} bytes of replies unread`);
      else {
        log.debug('idle policy connection closed');
        endSoon();
      }
    });
    socket.on('end', () => {
      // Postfix closed its side; answer what is queued (pump ends the socket when done).
      peerEnded = true;
      if (!running && queue.length === 0 && !endedByUs) endSoon();
    });
    socket.on('error', (err) => log.debug({ err: String(err) }, 'policy socket error'));
    socket.setNoDelay(true);
    armTimer();
  }

  const allowed = (address: string | undefined): boolean => {
    if (!settings.clients) return true;
    const a = address === undefined ? undefined : parseIp(address);
    return a !== undefined && settings.clients.some((net) => cidrContains(net, a));
  };

  // one log line per stranger per minute (a scanner must not flood the log); the counter sees every one
  const refusedLog = new Map<string, { at: number; suppressed: number }>();
  const logRefused = (peer: string) => {
    const now = performance.now();
    const seen = refusedLog.get(peer);
    if (seen && now - seen.at < 60_000) {
      seen.suppressed++;
      return;
    }
    if (refusedLog.size >= 10_000) refusedLog.clear();
    refusedLog.set(peer, { at: now, suppressed: 0 });
    logger.warn(
      { event: 'refused', peer, reason: 'not in policyd.clients', suppressed: seen?.suppressed || undefined },
      'policy connection refused',
    );
  };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (!allowed(socket.remoteAddress)) {
      // closed before a byte is read: a stranger can never ask, so never move greylist state
      metrics.refused.inc();
      logRefused(socket.remoteAddress ?? 'unknown');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const overloaded = live.size >= settings.maxConnections;
    metrics.accepted.inc({ outcome: overloaded ? 'overload' : 'served' });
    if (overloaded) {
      // Past twice the limit we cannot afford even a polite answer.
      if (live.size >= settings.maxConnections * 2) {
        socket.destroy();
        return;
      }
      logger.warn({ max: settings.maxConnections }, 'policy connection over max_connections: one answer, then close');
    }
    live.add(socket);
    metrics.connections.set(live.size);
    socket.on('close', () => {
      live.delete(socket);
      metrics.connections.set(live.size);
    });
    serve(socket, overloaded);
  });

  return {
    server,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address();
          resolve(typeof a === 'object' && a ? { host: a.address, port: a.port } : { host, port });
        });
      });
    },
    async close(graceMs = 5000) {
      closing = true;
      clearInterval(sweep);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of live) if (!busy.has(s)) s.end();
      const deadline = setTimeout(() => {
        for (const s of live) s.destroy();
      }, graceMs);
      await stopped;
      clearTimeout(deadline);
    },
    connectionCount: () => live.size,
  };
}
