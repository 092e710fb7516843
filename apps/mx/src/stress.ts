// Stress-adaptive limits, as Postfix's STRESS_README: when the sessions near the connection limit, idle
// timeouts drop to Postfix's stress values, the per-address limit tightens, one error ends a session, and
// clients that have not said EHLO are dropped first to make room. Pure; the server applies what it says.

/** Postfix: `smtpd_timeout = ${stress?{10}:{300}}s`. Under stress the command, DATA and idle timeouts all use it. */
export const STRESS_TIMEOUT_MS = 10_000;
/** Postfix: `smtpd_hard_error_limit = ${stress?{1}:{20}}`. */
export const STRESS_ERROR_LIMIT = 1;
/** Stress begins when the open sessions reach this share of mx.limits.max_connections... */
export const STRESS_ON_SHARE = 0.8;
/** ...and ends below this share (apart, so that it does not flap around one number). */
export const STRESS_OFF_SHARE = 0.5;

/** The per-address session limit under stress: half the configured one, at least 1. */
export const stressPerIpLimit = (perIp: number): number => Math.max(1, Math.ceil(perIp / 2));

export class StressState {
  #on = false;
  readonly #onAt: number;
  readonly #offBelow: number;

  constructor(maxClients: number) {
    this.#onAt = Math.max(1, Math.floor(maxClients * STRESS_ON_SHARE));
    this.#offBelow = Math.max(1, Math.floor(maxClients * STRESS_OFF_SHARE));
  }

  get on(): boolean {
    return this.#on;
  }

  /** Feed the number of open sessions; true when the state changed. */
  update(sessions: number): boolean {
    const next = this.#on ? sessions >= this.#offBelow : sessions >= this.#onAt;
    if (next === this.#on) return false;
    this.#on = next;
    return true;
  }

  get thresholds(): { on: number; offBelow: number } {
    return { on: this.#onAt, offBelow: this.#offBelow };
  }
}

/** The connection to drop for a newcomer under stress: the oldest one that has not said HELO/EHLO, if any. */
export function pickEviction<C extends { hostNameAppearsAs: string | false; openedAt: number }>(conns: Iterable<C>): C | undefined {
  let best: C | undefined;
  for (const c of conns) if (!c.hostNameAppearsAs && (!best || c.openedAt < best.openedAt)) best = c;
  return best;
}
