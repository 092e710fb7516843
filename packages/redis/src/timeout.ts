// A promise under a time budget: the one helper Redis callers use so a slow store never holds a command.
// Trusts nothing; the late promise's outcome is dropped, never unhandled.

/** `p`, or the error `timedOut()` makes once `ms` have passed. */
export function withTimeout<T>(p: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(timedOut()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
