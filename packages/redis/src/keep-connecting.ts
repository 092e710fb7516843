// Keeps a client connecting when ioredis gives up on its own: a connect attempt that fails (in Sentinel mode,
// a +switch-master arriving while the client reconnects aborts it) ends the client for good. Trusts ioredis's status events.
import type { Redis } from 'ioredis';

/**
 * After an attempt that ended the client without the caller closing it (status 'connecting' -> 'end'),
 * connects again in `retryMs`, for as long as the caller has not called quit() or disconnect().
 */
export function keepConnecting(redis: Redis, retryMs = 1000): void {
  let closedByCaller = false;
  let last: string = redis.status;
  const quit = redis.quit.bind(redis);
  const disconnect = redis.disconnect.bind(redis);
  redis.quit = ((...args: Parameters<Redis['quit']>) => {
    closedByCaller = true;
    return quit(...args);
  }) as Redis['quit'];
  redis.disconnect = (reconnect = false) => {
    if (!reconnect) closedByCaller = true;
    return disconnect(reconnect);
  };
  for (const s of ['connecting', 'connect', 'ready', 'close', 'reconnecting'] as const) {
    redis.on(s, () => {
      last = s;
    });
  }
  redis.on('end', () => {
    const was = last;
    last = 'end';
    if (closedByCaller || was !== 'connecting') return;
    setTimeout(() => {
      if (!closedByCaller && redis.status === 'end') redis.connect().catch(() => undefined);
    }, retryMs).unref();
  });
}
