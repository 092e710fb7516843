import type { Facts, Verdict } from '@moat/policy';
import { describe, expect, it } from 'vitest';
import { DecisionTimeoutError, createDecider } from './deadline.ts';

const facts = {} as Facts;
const verdict: Verdict = { action: 'continue', status: '2.0.0', text: '', prepend: [], trace: [] };

/** Calls of one decision's `done`, and a promise of the first. */
function recorder() {
  const calls: Array<[unknown, Verdict | undefined]> = [];
  let first!: () => void;
  const called = new Promise<void>((r) => (first = r));
  return {
    calls,
    called,
    done: (err: unknown, v: Verdict | undefined) => {
      calls.push([err, v]);
      first();
    },
  };
}
const settled = () => new Promise((r) => setTimeout(r, 0));

describe('createDecider', () => {
  it('calls done once with the verdict, never synchronously', async () => {
    const decider = createDecider({ evaluate: async () => verdict }, 10_000);
    const r = recorder();
    decider.decide(facts, r.done);
    expect(r.calls).toHaveLength(0);
    await r.called;
    await settled();
    expect(r.calls).toEqual([[undefined, verdict]]);
    decider.stop();
  });

  it('a timeout wins once; the late verdict is ignored', async () => {
    let resolve!: (v: Verdict) => void;
    const decider = createDecider({ evaluate: () => new Promise<Verdict>((r) => (resolve = r)) }, 20);
    const r = recorder();
    decider.decide(facts, r.done);
    await r.called;
    resolve(verdict);
    await settled();
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]![0]).toBeInstanceOf(DecisionTimeoutError);
    expect(r.calls[0]![1]).toBeUndefined();
    decider.stop();
  });

  it('a timeout wins once; a late rejection is ignored (and not left unhandled)', async () => {
    let reject!: (e: Error) => void;
    const decider = createDecider({ evaluate: () => new Promise<Verdict>((_, j) => (reject = j)) }, 20);
    const r = recorder();
    decider.decide(facts, r.done);
    await r.called;
    reject(new Error('late'));
    await settled();
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]![0]).toBeInstanceOf(DecisionTimeoutError);
    decider.stop();
  });

  it('an evaluate that throws at once: done once with the error, asynchronously', async () => {
    const boom = new Error('boom');
    const decider = createDecider(
      {
        evaluate: () => {
          throw boom;
        },
      },
      10_000,
    );
    const r = recorder();
    decider.decide(facts, r.done);
    expect(r.calls).toHaveLength(0);
    await r.called;
    await settled();
    expect(r.calls).toEqual([[boom, undefined]]);
    decider.stop();
  });

  it('an engine rejection: done once with its error', async () => {
    const boom = new Error('boom');
    const decider = createDecider({ evaluate: () => Promise.reject(boom) }, 10_000);
    const r = recorder();
    decider.decide(facts, r.done);
    await r.called;
    await settled();
    expect(r.calls).toEqual([[boom, undefined]]);
    decider.stop();
  });
});
