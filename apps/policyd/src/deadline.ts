// Decision timeouts for every in-flight engine call: one coarse sweep instead of a timer per request.
// Trusts the engine to settle eventually; a decision past its budget is failed here and its late answer ignored.
import type { Facts, Verdict } from '@moat/policy';

/** The engine did not answer within policyd.decision_timeout. */
export class DecisionTimeoutError extends Error {}

/** Called exactly once per decision: with the verdict, or with the engine's error or a DecisionTimeoutError. */
export type DecisionDone = (err: unknown, verdict: Verdict | undefined) => void;

export interface Decider {
  /**
   * Callback-style (no promise of its own per request: this is the per-request hot path); `at`: its start,
   * performance.now(). `done` never runs synchronously inside decide(), even when evaluate throws at once.
   */
  decide(facts: Facts, done: DecisionDone, at?: number): void;
  stop(): void;
}

interface InFlight {
  at: number;
  done: DecisionDone | undefined;
}

export function createDecider(engine: { evaluate(facts: Facts): Promise<Verdict> }, timeoutMs: number): Decider {
  const inflight = new Set<InFlight>();
  /** The first of the verdict, the error and the timeout wins; the others find `done` gone. */
  const settle = (d: InFlight, err: unknown, verdict: Verdict | undefined) => {
    const done = d.done;
    if (done === undefined) return;
    d.done = undefined;
    inflight.delete(d);
    done(err, verdict);
  };
  const sweep = setInterval(
    () => {
      const limit = performance.now() - timeoutMs;
      // one throwing `done` must not leave the other timed-out decisions unsettled: the first is rethrown after
      let thrown: { e: unknown } | undefined;
      for (const d of inflight) {
        if (d.at > limit) continue;
        try {
          settle(d, new DecisionTimeoutError('decision timed out'), undefined);
        } catch (e) {
          thrown ??= { e };
        }
      }
      if (thrown) throw thrown.e;
    },
    Math.max(10, Math.min(1000, timeoutMs / 4)),
  );
  sweep.unref();
  return {
    decide(facts, done, at = performance.now()) {
      const d: InFlight = { at, done };
      inflight.add(d);
      let verdict: Promise<Verdict>;
      try {
        verdict = engine.evaluate(facts);
      } catch (e) {
        verdict = Promise.reject(e);
      }
      verdict.then(
        (v) => settle(d, undefined, v),
        (e: unknown) => settle(d, e, undefined),
      );
    },
    stop: () => clearInterval(sweep),
  };
}
