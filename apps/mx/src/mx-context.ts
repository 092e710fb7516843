// What every part of one gateway shares (settings, metrics, sessions, anvil, rate limits, the engine's
// decide step), built once per createMx. Trusts its MxDeps; the facts it decides on come from clients.
import type { MxView as MxSettings } from '@moat/config';
import type { Logger } from '@moat/observe';
import { cidrContains, type Facts, parseCidr, parseIp, type Verdict } from '@moat/policy';
import { createDecisionMetrics, recordDecision } from '@moat/runtime';
import type { SMTPServer } from 'smtp-server';
import type { SmtpReply } from './hook.ts';
import { Anvil } from './limits.ts';
import { createMxMetrics, type MxMetrics } from './metrics.ts';
import type { MxDeps, PolicyEngine } from './mx-deps.ts';
import { type MxRateLimits, mxRateLimits } from './rate-limits.ts';
import { verdictReply } from './replies.ts';
import { createSessions, type Sessions } from './session-state.ts';

export interface MxContext {
  readonly deps: MxDeps;
  readonly settings: MxSettings;
  readonly logger: Logger;
  readonly metrics: MxMetrics;
  readonly sessions: Sessions;
  /** Per-address session counts, shared with the other config generations of this listener. */
  readonly anvil: Anvil;
  readonly rateLimits: MxRateLimits | undefined;
  /** Budget of the MAIL/RCPT/AUTH hooks. */
  readonly commandTimeout: number;
  /** Budget of end-of-DATA, counted from the end of the message. */
  readonly dataTimeout: number;
  /** mx.xclient.trusted_networks. */
  readonly xclient: readonly string[];
  readonly listener: 'smtp' | 'submission';
  inMyNetworks(address: string): boolean;
  /** The smtp-server instance: built after the hooks that use it, so read only while serving. */
  readonly server: SMTPServer;
  /** Evaluate one stage; returns the reply to send (reject/defer) or undefined. Logs and counts. */
  decide(f: Facts, by?: PolicyEngine): Promise<{ verdict: Verdict; reply?: SmtpReply | undefined }>;
}

export function createContext(deps: MxDeps, server: () => SMTPServer): MxContext {
  const { settings, logger, engine } = deps;
  const metrics = createMxMetrics(deps.registry);
  const decisions = createDecisionMetrics(deps.registry);
  // HELO/MAIL verdicts that decide nothing are counted, but logged only at debug: the RCPT decision
  // and the message line say it all (two lines per message, like Postfix's smtpd + cleanup)
  const quietLogger = logger.child({}, { level: logger.isLevelEnabled('debug') ? logger.level : 'warn' });
  const anvilLimits = { perIpConcurrency: settings.limits.perIpConcurrency, perIpRatePerMinute: settings.limits.perIpRatePerMinute };
  // shared with the other config generations of this listener (a reload must not reset what clients hold)
  const anvil = deps.anvil ?? new Anvil(anvilLimits);
  if (deps.anvil) anvil.configure(anvilLimits);
  const myNetworks = (deps.myNetworks ?? []).flatMap((n) => parseCidr(n) ?? []);

  return {
    deps,
    settings,
    logger,
    metrics,
    sessions: createSessions(deps.resolver, settings.dns.timeoutMs),
    anvil,
    rateLimits: deps.rateLimits && mxRateLimits(deps.rateLimits, metrics, !!deps.submission),
    commandTimeout: deps.commandTimeoutMs ?? settings.limits.decisionTimeoutMs,
    dataTimeout: deps.dataTimeoutMs ?? 120_000,
    xclient: settings.xclientNetworks,
    listener: deps.submission ? 'submission' : 'smtp',
    inMyNetworks(address) {
      const ip = parseIp(address);
      return ip !== undefined && myNetworks.some((n) => cidrContains(n, ip));
    },
    get server() {
      return server();
    },
    async decide(f, by = engine) {
      const t = performance.now();
      const verdict = await by.evaluate(f);
      let reply: SmtpReply | undefined;
      if (verdict.action === 'reject' || verdict.action === 'defer') {
        reply = verdictReply(verdict);
        metrics.rejects.inc({ stage: f.stage, restriction: verdict.decidedBy ?? 'none', code: String(reply.responseCode) });
      }
      recordDecision(verdict.action === 'continue' && f.stage !== 'rcpt' ? quietLogger : logger, decisions, f, verdict, {
        ms: performance.now() - t,
        reply: reply ? `${reply.responseCode} ${reply.message}` : undefined,
        sink: deps.journal,
      });
      return { verdict, reply };
    },
  };
}
