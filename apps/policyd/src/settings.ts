// The policyd profile: which stages it acts on, how verdicts become Postfix actions, and its limits.
// Defaults are the safe ones for a server placed after reject_unauth_destination in smtpd_recipient_restrictions.
import { type Cidr, parseCidr, type Stage } from '@moat/policy';

export interface PolicydSettings {
  /** Stages the engine is asked at; every other protocol_state gets DUNNO. */
  stages: readonly Stage[];
  /**
   * What an engine permit becomes. `DUNNO` (default): Postfix goes on with its own later
   * restrictions and ends in its implicit permit, so a moat permit can never authorise relaying
   * even when check_policy_service is placed before reject_unauth_destination. `OK`: ends
   * Postfix's restriction list (only for admins who put moat last and want its permit final).
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
  /** Decisions taking longer than this answer `timeoutAction` (Postfix waits 100 s by default). */
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

export const defaultSettings: PolicydSettings = Object.freeze({
  stages: Object.freeze(['rcpt'] as Stage[]),
  permitAction: 'DUNNO',
  rejectStyle: 'code',
  maxConnections: 200,
  overloadAction: 'DUNNO',
  idleTimeoutMs: 330_000,
  requestTimeoutMs: 10_000,
  decisionTimeoutMs: 10_000,
  errorAction: '',
  maxLine: 4096,
  maxRequest: 65_536,
}) as PolicydSettings;

/** The `policyd:` config section as far as the server needs it (durations in ms). */
export interface PolicydSectionLike {
  idle_timeout: number;
  max_connections: number;
  stages?: readonly string[] | undefined;
  permit_action?: string | undefined;
  reject_style?: string | undefined;
  request_timeout?: number | undefined;
  decision_timeout?: number | undefined;
  error_action?: string | undefined;
  overload_action?: string | undefined;
  max_line?: number | undefined;
  max_request?: number | undefined;
  clients?: readonly string[] | undefined;
}

const stageNames: Readonly<Record<string, Stage>> = {
  connect: 'connect',
  helo: 'helo',
  mail: 'mail',
  rcpt: 'rcpt',
  data: 'data',
  'end-of-data': 'end-of-data',
  'end-of-message': 'end-of-data',
};

/** policyd.clients, else the policy's mynetworks: the networks whose Postfix may ask. */
export function allowedClients(clients: readonly string[] | undefined, mynetworks: readonly string[]): string[] {
  return [...(clients ?? mynetworks)];
}

export function settingsFrom(section: PolicydSectionLike): PolicydSettings {
  const d = defaultSettings;
  const stages = (section.stages ?? d.stages).map((s) => {
    const st = stageNames[s.toLowerCase()];
    if (!st) throw new Error(`policyd.stages: unknown stage ${s}`);
    return st;
  });
  return Object.freeze({
    ...d,
    stages: Object.freeze(stages),
    permitAction: section.permit_action?.toUpperCase() === 'OK' ? 'OK' : 'DUNNO',
    rejectStyle: section.reject_style === 'reject' ? 'reject' : 'code',
    maxConnections: section.max_connections,
    idleTimeoutMs: section.idle_timeout,
    requestTimeoutMs: section.request_timeout ?? d.requestTimeoutMs,
    decisionTimeoutMs: section.decision_timeout ?? d.decisionTimeoutMs,
    errorAction: section.error_action ?? d.errorAction,
    overloadAction: section.overload_action ?? d.overloadAction,
    maxLine: section.max_line ?? d.maxLine,
    maxRequest: section.max_request ?? d.maxRequest,
    clients:
      section.clients === undefined
        ? undefined
        : Object.freeze(
            section.clients.map((c) => {
              const net = parseCidr(c);
              if (!net) throw new Error(`policyd.clients: ${c} is not a network`);
              return net;
            }),
          ),
  }) as PolicydSettings;
}
