// The policy server: Postfix smtpd connections in, one `action=` reply per request out, the engine in between.
// Talks to Postfix smtpd processes only (bind it to loopback or a trusted network); every byte read is untrusted.
import { createServer, type Server, type Socket } from 'node:net';
import type { PolicydView as PolicydSettings } from '@moat/config';
import type { Logger, Registry } from '@moat/observe';
import type { Facts, Verdict } from '@moat/policy';
import { createDecisionMetrics, type DecisionSink } from '@moat/runtime';
import { clientAllowed, refusalLogger } from './clients.ts';
import { type ConnectionContext, serveConnection, sweepInterval, type TimedConnection } from './connection.ts';
import { createDecider } from './deadline.ts';
import { policydMetrics } from './metrics.ts';

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

export function createPolicyServer(opts: PolicyServerOptions): PolicyServer {
  const { settings, logger } = opts;
  const metrics = policydMetrics(opts.registry);
  const decider = createDecider(opts.engine, settings.decisionTimeoutMs);
  const live = new Set<Socket>();
  /** The request, idle and end timeouts of every live connection: one sweep, no timer per socket. */
  const timed = new Set<TimedConnection>();
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of timed) c.check(now);
  }, sweepInterval(settings));
  sweep.unref();
  let closing = false;
  let seq = 0;
  const ctx: ConnectionContext = {
    settings,
    decider,
    logger,
    metrics,
    decisions: createDecisionMetrics(opts.registry),
    replyCode: opts.replyCode,
    sink: opts.sink,
    busy: new Set(),
    closing: () => closing,
  };
  const logRefused = refusalLogger(logger);

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (!clientAllowed(settings.clients, socket.remoteAddress)) {
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
    const conn = serveConnection(ctx, socket, (++seq).toString(36), overloaded);
    timed.add(conn);
    socket.on('close', () => {
      live.delete(socket);
      timed.delete(conn);
      metrics.connections.set(live.size);
    });
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
      decider.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of live) if (!ctx.busy.has(s)) s.end();
      const deadline = setTimeout(() => {
        for (const s of live) s.destroy();
      }, graceMs);
      await stopped;
      clearTimeout(deadline);
      clearInterval(sweep);
    },
    connectionCount: () => live.size,
  };
}
