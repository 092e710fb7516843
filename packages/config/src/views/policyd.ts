// policyd's view of the config: which stages it acts on, how verdicts become Postfix actions, its limits (ms).
// Trusts the parsed config: every default is the schema's; this adds none (there is one reader).
import { type Cidr, parseCidr, type Stage } from '@moat/policy';
import type { Config } from '../schema.ts';

export interface PolicydView {
  /** Stages the engine is asked at; every other protocol_state gets DUNNO. */
  stages: readonly Stage[];
  /**
   * What an engine permit becomes. `DUNNO`: Postfix goes on with its own later restrictions and ends in its
   * implicit permit, so a moat permit can never authorise relaying even when check_policy_service is placed
   * before reject_unauth_destination. `OK`: ends Postfix's restriction list (moat placed last).
   */
  permitAction: 'DUNNO' | 'OK';
  /** `code`: `554 5.7.1 text` (the engine's reply code); `reject`: `REJECT 5.7.1 text` ($access_map_reject_code). */
  rejectStyle: 'code' | 'reject';
  /** Connections served at once; beyond it a connection gets one answer (overloadAction) and is closed. */
  maxConnections: number;
  /** Action for requests on connections over maxConnections (fail open like the seed). */
  overloadAction: string;
  /** Close a connection idle this long between requests (Postfix's max_idle is 300 s; it reconnects). */
  idleTimeoutMs: number;
  /** Close a connection whose request stays unfinished this long (no blank line). */
  requestTimeoutMs: number;
  /** Decisions taking longer than this answer `errorAction`. */
  decisionTimeoutMs: number;
  /** Answer when the engine fails or times out. Empty: log and disconnect, so Postfix's default_action applies. */
  errorAction: string;
  maxLine: number;
  maxRequest: number;
  /**
   * The networks whose connections are served (policyd.clients, default mynetworks); any other is closed at
   * once. Undefined: everyone (only for tests and embedders that filter elsewhere).
   */
  clients?: readonly Cidr[] | undefined;
}

const STAGES: Readonly<Record<Config['policyd']['stages'][number], Stage>> = {
  connect: 'connect',
  helo: 'helo',
  mail: 'mail',
  rcpt: 'rcpt',
  data: 'data',
  'end-of-message': 'end-of-data',
};

/** policyd.clients, else the policy's mynetworks: the networks whose Postfix may ask. */
export function policydClients(config: Config): string[] {
  return [...(config.policyd.clients ?? config.policy.mynetworks)];
}

/**
 * policyd's settings, frozen. `workers` > 1: this process is one of that many sharing the port, so it takes
 * ceil(max_connections / workers) of the whole service's limit.
 */
export function policydView(config: Config, opts: { workers?: number | undefined } = {}): PolicydView {
  const p = config.policyd;
  const workers = opts.workers ?? 1;
  return Object.freeze({
    stages: Object.freeze(p.stages.map((s) => STAGES[s])),
    permitAction: p.permit_action,
    rejectStyle: p.reject_style,
    maxConnections: workers > 1 ? Math.ceil(p.max_connections / workers) : p.max_connections,
    overloadAction: p.overload_action,
    idleTimeoutMs: p.idle_timeout,
    requestTimeoutMs: p.request_timeout,
    decisionTimeoutMs: p.decision_timeout,
    errorAction: p.error_action ?? '',
    maxLine: p.max_line,
    maxRequest: p.max_request,
    clients: Object.freeze(
      policydClients(config).map((c) => {
        const net = parseCidr(c);
        // the schema checked each one; a mynetworks entry is checked the same way
        if (!net) throw new Error(`policyd.clients: ${c} is not a network`);
        return net;
      }),
    ),
  });
}
