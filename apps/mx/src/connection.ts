// A connection's life at the gateway: admission (anvil), the session time limit, STARTTLS, the stress state
// and the idle timeouts it sets. Talks to nothing but the clients' sockets; trusts smtp-server's session.
import type { TLSSocket } from 'node:tls';
import type { SMTPServerOptions } from 'smtp-server';
import { SmtpReply } from './hook.ts';
import { inNetworks } from './limits.ts';
import type { MxContext } from './mx-context.ts';
import { bare } from './session-state.ts';
import { type ConnectionPolicy, connections, type LiveConnection, rearm, serverConnections } from './smtp-hooks.ts';
import { pickEviction, STRESS_ERROR_LIMIT, STRESS_TIMEOUT_MS, StressState, stressPerIpLimit } from './stress.ts';
import { describeTls } from './tls.ts';

export interface StressControl {
  /** Recompute the stress state from the open connections; on a change, apply it to every session now. */
  check(): void;
  /** The idle timeouts, error limit and eviction smtp-hooks.ts applies per connection. */
  readonly policy: ConnectionPolicy;
}

export function createStressControl(ctx: MxContext): StressControl {
  const { settings, metrics, logger, listener, anvil } = ctx;
  const stress = new StressState(settings.limits.maxClients);
  metrics.stress.set({ listener }, 0);

  function check(): void {
    // every generation's sessions on this listener: the old ones draining after a reload count too
    const open = ctx.deps.anvil ? anvil.total() : ctx.server.connections.size;
    if (!stress.update(open)) return;
    const on = stress.on;
    metrics.stress.set({ listener }, on ? 1 : 0);
    metrics.stressSwitches.inc({ listener, to: on ? 'on' : 'off' });
    anvil.setConcurrency(on ? stressPerIpLimit(settings.limits.perIpConcurrency) : undefined);
    logger.warn(
      {
        event: on ? 'stress-on' : 'stress-off',
        listener,
        sessions: open,
        maxConnections: settings.limits.maxClients,
        ...stress.thresholds,
        timeoutMs: on ? STRESS_TIMEOUT_MS : settings.limits.idleTimeoutMs,
        perIpConcurrency: on ? stressPerIpLimit(settings.limits.perIpConcurrency) : settings.limits.perIpConcurrency,
      },
      on ? 'under stress: short timeouts, tighter limits' : 'stress over: normal timeouts and limits',
    );
    for (const c of connections(ctx.server)) rearm(ctx.server, c.id);
  }

  /** The idle timeout of a session now: stress, DATA, or between commands. */
  function idleTimeoutMs(conn: LiveConnection): number {
    const normal = ctx.sessions.get(conn.id)?.inData ? settings.limits.dataIdleTimeoutMs : settings.limits.idleTimeoutMs;
    return stress.on ? Math.min(STRESS_TIMEOUT_MS, normal) : normal;
  }

  return {
    check,
    policy: {
      idleTimeoutMs,
      errorLimit: () => (stress.on ? STRESS_ERROR_LIMIT : settings.limits.maxErrors),
      // at the connection limit under stress, a newcomer gets the place of the oldest client still silent
      evict(conns) {
        if (!stress.on) return undefined;
        const victim = pickEviction(conns);
        if (victim) {
          metrics.stressDropped.inc({ listener });
          logger.info({ event: 'stress-drop', listener, session: victim.id, client: bare(victim.session.remoteAddress) }, 'dropped a session without EHLO to make room');
        }
        return victim;
      },
    },
  };
}

/** smtp-server's connect, STARTTLS and close hooks. `baseDisabled`: the commands no session may use. */
export function connectionHooks(
  ctx: MxContext,
  stress: StressControl,
  baseDisabled: readonly string[],
): Pick<SMTPServerOptions, 'onConnect' | 'onSecure' | 'onClose'> {
  const { settings, metrics, logger, sessions, anvil, deps } = ctx;
  return {
    onConnect(session, callback) {
      const s = sessions.state(session);
      const admit = anvil.admit(s.peer);
      if (!admit.ok) {
        metrics.refused.inc({ reason: admit.reason });
        logger.info({ event: 'connection-refused', client: s.peer, reason: admit.reason }, 'connection refused');
        return callback(new SmtpReply(421, admit.message));
      }
      s.admitted = true;
      metrics.sessions.inc();
      metrics.sessionsActive.inc();
      stress.check();
      const disabled = [...baseDisabled];
      // until STARTTLS AUTH is neither offered nor accepted in clear (onSecure lifts it)
      disabled.push('AUTH');
      if (!inNetworks(s.peer, ctx.xclient)) disabled.push('XCLIENT', 'XFORWARD');
      session.disabledCommands = disabled;
      s.lifetime = setTimeout(() => {
        for (const c of serverConnections(ctx.server)) {
          if (c.id === session.id) {
            logger.info({ event: 'session-timeout', session: session.id, client: s.peer }, 'session exceeded its time limit');
            c.send(421, '4.4.2 Error: session time limit exceeded');
          }
        }
      }, settings.limits.sessionMaxMs);
      s.lifetime.unref();
      callback();
    },

    onSecure(socket, session, callback) {
      const s = sessions.state(session);
      try {
        s.tls = describeTls(socket as TLSSocket);
        metrics.tls.inc({ version: s.tls.version });
      } catch (e) {
        logger.warn({ event: 'tls-info', err: e }, 'cannot describe TLS session');
      }
      if (deps.authenticator && Array.isArray(session.disabledCommands)) {
        session.disabledCommands = session.disabledCommands.filter((c) => c !== 'AUTH');
      }
      callback();
    },

    onClose(session) {
      const s = sessions.get(session.id);
      if (!s) return;
      sessions.delete(session.id);
      clearTimeout(s.lifetime);
      if (s.admitted) {
        anvil.release(s.peer);
        metrics.sessionsActive.dec();
      }
      // this connection is still in server.connections while onClose runs
      queueMicrotask(stress.check);
    },
  };
}
