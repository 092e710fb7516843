// A bounded stream of messages to the three MX, each sent as a sending MTA does (its next MX when one
// fails, another round later), for the node-loss and upgrade tests; and the tally of what was acknowledged.
// Trusts nothing it receives: every outcome is recorded, none throws.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmtpOutcome } from '@moat/testkit';
import { freshSender, freshTag, MX, type MxName, sendAt, swarm } from './swarm.ts';

export interface Attempt {
  tag: string;
  node: MxName;
  at: number;
  outcome: SmtpOutcome;
}

export interface LoadResult {
  /** Tags acknowledged with 250 after DATA (each message has one, from its accepted attempt). */
  acked: string[];
  /** Messages no node accepted in all rounds. */
  failed: number;
  attempts: Attempt[];
}

/**
 * A sender whose triplet has passed the greylist (first try deferred, retried after the delay), so the
 * stream is not held up by the delay: the greylist lets a passed triplet through on every node.
 */
export async function passedSender(): Promise<string> {
  const from = freshSender();
  const tag = freshTag('prime');
  for (let i = 0; i < 20; i++) {
    const r = await sendAt(MX[i % 3] ?? 'mx2', { from, tag: `${tag}.a${i}` });
    if (r.stage === 'done') return from;
    await sleep(swarm().greylistDelayMs / 2);
  }
  throw new Error('the greylist never passed the load sender');
}

/** `count` messages at one per `intervalMs`, each tried at the nodes in turn (starting at a rotating one). */
export async function runLoad({ count, intervalMs, from, label }: { count: number; intervalMs: number; from: string; label: string }): Promise<LoadResult> {
  const attempts: Attempt[] = [];
  const acked: string[] = [];
  let failed = 0;
  const one = async (i: number) => {
    const base = freshTag(`${label}${i}`);
    let n = 0;
    for (let round = 0; round < 8; round++) {
      for (let k = 0; k < MX.length; k++) {
        const node = MX[(i + k) % MX.length] ?? 'mx1';
        const tag = `${base}.a${n++}`;
        // a sending MTA waits minutes for DATA's reply (RFC 5321 4.5.3.2.6: 10 min); 60 s is more than the
        // profile's spamd timeout (20 s), after which moat accepts unscanned (spamd.on_failure: accept)
        const outcome = await sendAt(node, { from, tag, timeoutMs: 60_000 });
        attempts.push({ tag, node, at: Date.now(), outcome });
        if (outcome.stage === 'done') {
          acked.push(tag);
          return;
        }
        if (outcome.code >= 500) {
          failed++;
          return;
        }
      }
      await sleep(3000);
    }
    failed++;
  };
  const running: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    running.push(one(i));
    await sleep(intervalMs);
  }
  await Promise.all(running);
  return { acked, failed, attempts };
}

/** Attempts refused or lost at a node between two times (connection failures, 4xx, lost replies). */
export function refusedAt(r: LoadResult, node: MxName, from = 0, to = Number.POSITIVE_INFINITY): Attempt[] {
  return r.attempts.filter((a) => a.node === node && a.at >= from && a.at <= to && a.outcome.stage !== 'done');
}
