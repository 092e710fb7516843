// SMTP AUTH's decision (PLAIN and LOGIN carry a name and a password): check against the users, count failures per client.
// Trusts the users source (the admin's file); the client's name and password are untrusted and never logged here.
import { dummyHash, verifyPassword } from './password.ts';
import type { UsersSource } from './users-store.ts';

/** Failures per client; may be shared between MX nodes (then async). */
export interface FailureCounter {
  blocked(key: string): boolean | Promise<boolean>;
  fail(key: string): void | Promise<void>;
}

/** Failed attempts per client address in a sliding window, in this process (Postfix's smtpd_client_auth_rate_limit, for failures). */
export class FailureLimiter implements FailureCounter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #failures = new Map<string, number[]>();

  constructor(max: number, windowMs: number, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  #recent(key: string): number[] {
    const cutoff = this.#now() - this.#windowMs;
    const list = (this.#failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, list);
    return list;
  }

  blocked(key: string): boolean {
    return this.#recent(key).length >= this.#max;
  }

  fail(key: string): void {
    const list = this.#recent(key);
    list.push(this.#now());
    this.#failures.set(key, list);
    // bound memory under a spray of addresses: forget the oldest entries
    if (this.#failures.size > 100_000) {
      const first = this.#failures.keys().next().value;
      if (first !== undefined) this.#failures.delete(first);
    }
  }
}

export type AuthOutcome = { ok: true; user: string } | { ok: false; code: number; message: string; reason: 'rate-limited' | 'bad-credentials' };

export interface Authenticator {
  authenticate(clientAddress: string, username: string, password: string): Promise<AuthOutcome>;
}

/** Users are looked up at each AUTH, so a reloaded users file applies to the next login. */
export function createAuthenticator(users: UsersSource, limiter: FailureCounter): Authenticator {
  return {
    async authenticate(clientAddress, username, password) {
      if (await limiter.blocked(clientAddress)) {
        return { ok: false, code: 454, message: '4.7.0 Too many failed authentication attempts, try again later', reason: 'rate-limited' };
      }
      const name = username.toLowerCase();
      const stored = users.get(name);
      // unknown users cost the same hash work as known ones (no user enumeration by timing)
      const ok = await verifyPassword(password, stored ?? (await dummyHash()));
      if (ok && stored) return { ok: true, user: name };
      await limiter.fail(clientAddress);
      return { ok: false, code: 535, message: '5.7.8 Authentication credentials invalid', reason: 'bad-credentials' };
    },
  };
}
