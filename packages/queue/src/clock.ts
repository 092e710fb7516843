// Time for the queue: retry times, arrival stamps and lifetimes. Tests inject their own clock.
// Trusts nothing; a plain source of milliseconds since the epoch.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
