// Reconnects a client whose connection looks open but answers nothing: a Redis host that died without a
// reset (SIGKILL'd container, lost host) leaves the socket "ready" for minutes. Trusts the caller's signals.
import type { RedisClient } from './index.ts';

export interface StallGuard {
  /** A call failed (timed out or errored) while the client believed it was connected. */
  failed(): void;
  /** A call succeeded: the connection answers. */
  ok(): void;
  /** Closing on purpose: never reconnect again. */
  close(): void;
}

/**
 * After the first failure on a "ready" connection, waits `afterMs`; if nothing has succeeded meanwhile and
 * the client still calls itself ready, drops the connection and reconnects (in Sentinel mode that asks the
 * Sentinels for the master again). `onReconnect` is told (a log line, a counter). Timers never hold the process.
 */
export function stallGuard(redis: RedisClient, o: { afterMs: number; onReconnect(): void }): StallGuard {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return {
    failed() {
      if (closed || timer || redis.status !== 'ready') return;
      timer = setTimeout(() => {
        timer = undefined;
        if (closed || redis.status !== 'ready') return;
        o.onReconnect();
        redis.disconnect(true);
      }, o.afterMs);
      timer.unref();
    },
    ok: clear,
    close() {
      closed = true;
      clear();
    },
  };
}
