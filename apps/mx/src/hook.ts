// smtp-server hooks are callback-style: this runs an async handler and always calls back exactly once,
// with a timeout that fails safe (a temporary error), and turns unexpected errors into a 451.
import type { Logger } from '@moat/observe';

/** An SMTP reply carried as an error: smtp-server sends `responseCode message`. */
export class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(code: number, text: string) {
    super(text);
    this.name = 'SmtpReply';
    this.responseCode = code;
  }
}

export const tempFailure = (): SmtpReply => new SmtpReply(451, '4.3.0 Temporary server error, try again later');

let pending = 0;

/**
 * SMTP hooks (MAIL, RCPT, DATA, AUTH, the HELO/EHLO check) between their entry and their callback, in this thread:
 * their lookups are in flight, which the memory upkeep must not pause (smtp-server marks a transaction only after
 * onMailFrom has called back, and the HELO check runs before any).
 */
export function hooksInFlight(): number {
  return pending;
}

/** Counts `run` in hooksInFlight() until it settles: for async checks that are not run through hook(). */
export async function counted<T>(run: () => Promise<T>): Promise<T> {
  pending++;
  try {
    return await run();
  } finally {
    pending--;
  }
}

export function hook<T>(
  name: string,
  timeoutMs: number,
  logger: Logger,
  callback: (err: Error | null, value?: T) => void,
  run: (signal: AbortSignal) => Promise<T>,
): void {
  let done = false;
  // aborted when the client has been answered 451 for a timeout: work still running must not act on it
  const abort = new AbortController();
  pending++;
  const finish = (err: Error | null, value?: T) => {
    if (done) return;
    done = true;
    pending--;
    clearTimeout(timer);
    callback(err, value);
  };
  const timer = setTimeout(() => {
    logger.warn({ event: 'hook-timeout', hook: name, timeoutMs }, 'SMTP hook timed out, answering 451');
    abort.abort();
    finish(tempFailure());
  }, timeoutMs);
  let p: Promise<T>;
  try {
    p = run(abort.signal);
  } catch (e) {
    p = Promise.reject(e);
  }
  p.then(
    (v) => finish(null, v),
    (e: unknown) => {
      if (e instanceof SmtpReply) return finish(e);
      logger.error({ event: 'hook-error', hook: name, err: e }, 'SMTP hook failed, answering 451');
      finish(tempFailure());
    },
  );
}
