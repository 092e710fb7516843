// Decision timeouts for every in-flight engine call: one coarse sweep instead of a timer per request.
// Trusts the engine to settle eventually; a decision past its budget is failed here and its late answer ignored.
import type { Facts, Verdict } from '@moat/policy';

/** The engine did not answer within policyd.decision_timeout. */
export class DecisionTimeoutError extends Error {}

export interface Decider {
  decide(facts: Facts): Promise<Verdict>;
  stop(): void;
}

export function createDecider(engine: { evaluate(facts: Facts): Promise<Verdict> }, timeoutMs: number): Decider {
  const inflight = new Set<{ at: number; fail: (e: Error) => void }>();
  const sweep = setInterval(
    () => {
      const limit = performance.now() - timeoutMs;
      for (const d of inflight) if (d.at <= limit) d.fail(new DecisionTimeoutError('decision timed out'));
    },
    Math.max(10, Math.min(1000, timeoutMs / 4)),
  );
  sweep.unref();
  return {
    decide: (facts) =>
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
      }),
    stop: () => clearInterval(sweep),
  };
}
