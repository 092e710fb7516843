// A counting semaphore: at most `limit` holders, FIFO waiters, waiters can give up (timeouts).
// Trusts its callers to release exactly once (acquire returns a one-shot release).

export interface Semaphore {
  /** Resolves with a release function; rejects with `signal.reason` if aborted while waiting. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  readonly active: number;
  readonly waiting: number;
}

export function createSemaphore(limit: number): Semaphore {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('semaphore limit must be a positive integer');
  let active = 0;
  const queue: Array<{ grant: () => void }> = [];
  const releaser = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      active--;
      const next = queue.shift();
      if (next) next.grant();
    };
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (active < limit) {
        active++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const entry = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            active++;
            resolve(releaser());
          },
        };
        const onAbort = () => {
          const i = queue.indexOf(entry);
          if (i >= 0) queue.splice(i, 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(entry);
      });
    },
  };
}
