// SMTP AUTH (PLAIN, LOGIN) against a users file of scrypt or argon2 hashes, with a per-client failure limit.
// Trusts the users file (the admin's); the client's name and password are untrusted and never logged.
import { argon2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** N, r, p and key length for new hashes (OWASP's scrypt minimum is N=2^17 with r=8; 2^15 keeps AUTH under ~50 ms). */
const DEFAULTS = { N: 32768, r: 8, p: 1, keylen: 32 };

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, { ...opts, maxmem: 256 * opts.N * opts.r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64): the users file's right-hand side. */
export async function hashPassword(password: string, opts: Partial<typeof DEFAULTS> = {}): Promise<string> {
  const { N, r, p, keylen } = { ...DEFAULTS, ...opts };
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, keylen, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export type ParsedHash =
  | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { kind: 'argon2'; algorithm: 'argon2id' | 'argon2i' | 'argon2d'; memory: number; passes: number; parallelism: number; salt: Buffer; hash: Buffer };

/** PHC strings as the argon2 CLI and libraries write them: `$argon2id$v=19$m=65536,t=3,p=4$salt$hash`. */
function parseArgon2(s: string): ParsedHash | undefined {
  const m = /^\$(argon2id|argon2i|argon2d)\$(?:v=19\$)?m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/.exec(s.trim());
  if (!m) return undefined;
  const [memory, passes, parallelism] = [Number(m[2]), Number(m[3]), Number(m[4])];
  // refuse parameters that would let a damaged file burn memory or CPU on every AUTH
  if (memory < 8 || memory > 262_144 || passes < 1 || passes > 10 || parallelism < 1 || parallelism > 16) return undefined;
  const salt = Buffer.from(m[5]!, 'base64');
  const hash = Buffer.from(m[6]!, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 128) return undefined;
  return { kind: 'argon2', algorithm: m[1] as 'argon2id', memory, passes, parallelism, salt, hash };
}

export function parseHash(s: string): ParsedHash | undefined {
  if (s.trim().startsWith('$argon2')) return parseArgon2(s);
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(s.trim());
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // refuse absurd parameters from a damaged file rather than burn CPU or memory on them
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const hash = Buffer.from(m[5]!, 'base64');
  if (hash.length < 16 || hash.length > 128) return undefined;
  return { kind: 'scrypt', N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash };
}

function argon2Async(stored: Extract<ParsedHash, { kind: 'argon2' }>, password: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      stored.algorithm,
      { message: password, nonce: stored.salt, parallelism: stored.parallelism, tagLength: stored.hash.length, memory: stored.memory, passes: stored.passes },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function verifyPassword(password: string, stored: ParsedHash): Promise<boolean> {
  const got = stored.kind === 'argon2' ? await argon2Async(stored, password) : await scryptAsync(password, stored.salt, stored.hash.length, stored);
  return got.length === stored.hash.length && timingSafeEqual(got, stored.hash);
}

/** Parse `user:hash` lines; `#` comments and blank lines are skipped; bad lines are reported, not fatal. */
export function parseUsersFile(text: string): { users: Map<string, ParsedHash>; errors: string[] } {
  const users = new Map<string, ParsedHash>();
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const c = t.indexOf(':');
    const parsed = c > 0 ? parseHash(t.slice(c + 1)) : undefined;
    if (!parsed) {
      errors.push(`line ${i + 1}: expected user:scrypt$N$r$p$salt$hash or user:$argon2id$v=19$m=...,t=...,p=...$salt$hash`);
      return;
    }
    users.set(t.slice(0, c).toLowerCase(), parsed);
  });
  return { users, errors };
}

/** Failed attempts per client address in a sliding window (Postfix's smtpd_client_auth_rate_limit, but for failures). */
export class FailureLimiter {
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

/** A dummy hash so unknown users cost the same scrypt work as known ones (no user enumeration by timing). */
let dummy: ParsedHash | undefined;

export function createAuthenticator(users: Map<string, ParsedHash>, limiter: FailureLimiter): Authenticator {
  return {
    async authenticate(clientAddress, username, password) {
      if (limiter.blocked(clientAddress)) {
        return { ok: false, code: 454, message: '4.7.0 Too many failed authentication attempts, try again later', reason: 'rate-limited' };
      }
      const stored = users.get(username.toLowerCase());
      dummy ??= parseHash(await hashPassword('x', { N: DEFAULTS.N }))!;
      const ok = await verifyPassword(password, stored ?? dummy);
      if (ok && stored) return { ok: true, user: username.toLowerCase() };
      limiter.fail(clientAddress);
      return { ok: false, code: 535, message: '5.7.8 Authentication credentials invalid', reason: 'bad-credentials' };
    },
  };
}

export async function loadAuthenticator(file: string, max: number, windowMs: number): Promise<{ auth: Authenticator; errors: string[]; count: number }> {
  const { users, errors } = parseUsersFile(await readFile(file, 'utf8'));
  return { auth: createAuthenticator(users, new FailureLimiter(max, windowMs)), errors, count: users.size };
}
