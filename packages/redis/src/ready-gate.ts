// The wait for a Redis client's first connection: a cold start should not fail open, a later outage fails fast.
// Trusts the client's own status and events.
import type { RedisClient } from './index.ts';

/**
 * Until a client's first connection is up, callers may wait for it within their own budget (a cold start
 * should not fail open); once it has been up, the wait resolves at once and callers fail fast instead.
 * One listener for every waiter, however many requests arrive during the start.
 */
export function firstReadyGate(redis: RedisClient): (ms: number) => Promise<void> {
  let started = redis.status === 'ready';
  // Waiters leave the set when their budget runs out: a Redis that never comes up costs no memory per call.
  const waiting = new Set<() => void>();
  redis.once('ready', () => {
    started = true;
    for (const release of waiting) release();
  });
  return (ms) => {
    if (started || redis.status === 'ready') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        waiting.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      waiting.add(release);
    });
  };
}
