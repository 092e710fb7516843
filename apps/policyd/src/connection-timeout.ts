// One connection's socket timeout as a deadline the server's sweep checks, instead of a Node socket timer.
// Trusts its caller for the clock (performance.now() readings) and for saying which timeout its state wants.

/**
 * Node re-arms a socket timer on every read and write (a timer-list move per request each way); this is two
 * numbers. The connection stamps activity with touch() and says its current state's timeout with set().
 */
export class ConnectionTimeout {
  #lastActive: number;
  #want: number;

  constructor(want: number, now: number = performance.now()) {
    this.#want = want;
    this.#lastActive = now;
  }

  /** Activity (a read, a reply, a drained write): the period starts again. */
  touch(now: number = performance.now()): void {
    this.#lastActive = now;
  }

  /** The timeout (ms) of the connection's state from now on; its period still runs from the last activity. */
  set(ms: number): void {
    this.#want = ms;
  }

  /** True when `now` is a whole period after the last activity: once per period, as a socket timeout fires. */
  due(now: number): boolean {
    if (now - this.#lastActive < this.#want) return false;
    this.#lastActive = now;
    return true;
  }
}
