// Per-destination limits of the queue manager: deliveries in flight per next hop, and next hops suspended after failing.
// Trusts the transports' results: a batch with no reply code at all means the destination could not be reached.
import type { Clock } from '../clock.ts';
import type { RecipientResult } from '../transports/types.ts';

interface Semaphore {
  active: number;
  waiters: (() => void)[];
}

export interface Destinations {
  /** Wait for a delivery slot to `key`; call the returned function when done. */
  acquire(key: string): Promise<() => void>;
  /** Why `dest` is suspended now (Postfix's "delivery temporarily suspended"), or undefined. */
  suspended(dest: string): { until: number; reason: string } | undefined;
  /** After a delivery to `dest`: suspend it when nothing could talk to it, else lift a suspension. */
  record(dest: string, res: RecipientResult[]): void;
}

export function createDestinations(perDest: number, deadDestinationMs: number, clock: Clock): Destinations {
  const sems = new Map<string, Semaphore>();
  const deadUntil = new Map<string, { until: number; reason: string }>();

  async function acquire(key: string): Promise<() => void> {
    let s = sems.get(key);
    if (!s) {
      s = { active: 0, waiters: [] };
      sems.set(key, s);
    }
    const sem = s;
    if (sem.active >= perDest) await new Promise<void>((r) => sem.waiters.push(r));
    else sem.active++;
    return () => {
      const next = sem.waiters.shift();
      if (next) next();
      else {
        sem.active--;
        if (sem.active === 0) sems.delete(key);
      }
    };
  }

  return {
    acquire,
    suspended(dest) {
      const dead = deadUntil.get(dest);
      return dead && dead.until > clock.now() ? dead : undefined;
    },
    record(dest, res) {
      // No reply code at all: we could not talk to it (connect, TLS, timeout).
      if (res.every((r) => r.status === 'deferred' && r.code === undefined)) {
        deadUntil.set(dest, { until: clock.now() + deadDestinationMs, reason: res[0]?.response ?? 'unreachable' });
      } else deadUntil.delete(dest);
    },
  };
}
