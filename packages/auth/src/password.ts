// Password hashes in one format for every moat component (console admin, SMTP users file, CLI), and their check.
// Trusts nothing: a stored hash may be damaged or hostile (its cost is bounded), a typed password is untrusted.
//
// The format written: `scrypt$N$r$p$SALT$KEY` with SALT (16 bytes) and KEY (32 bytes) in unpadded base64url
// (RFC 4648 §5: no `+`, `/` or `=`, so a hash survives YAML, .env files and URLs). Read as well:
// - the same with standard base64, padded or not (what moat-mx wrote before 2027);
// - PHC argon2 strings (`$argon2id$v=19$m=65536,t=3,p=4$SALT$KEY`), as the argon2 CLI and libraries write them.
// Passwords are NFC-normalised (RFC 8265's OpaqueString) before hashing, so the same typed password matches
// whatever the keyboard or client composed.
import { argon2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** N, r, p for new hashes: 2^15 with r=8 costs ~50 ms and 32 MiB (OWASP's floor is 2^17; AUTH runs per login). */
export const SCRYPT_DEFAULTS = Object.freeze({ N: 32768, r: 8, p: 1 });
const KEYLEN = 32;
const SALTLEN = 16;

/**
 * Cost bounds for stored hashes. A line outside them is refused as malformed, so a damaged or hostile
 * users file cannot make one AUTH cost seconds of CPU or gigabytes of memory. The worst accepted scrypt hash
 * is 4x the default's work and 128 MiB (OWASP's N=2^17, r=8, p=1 is exactly that); the worst argon2 hash walks
 * 1 GiB (libsodium's MODERATE, 256 MiB x 3 passes, fits). Measured on a loaded 2-core box: the default
 * 0.6 s, the worst scrypt 2.5 s, the worst argon2 7.7 s (unloaded, a fraction of that).
 */
export const LIMITS = Object.freeze({
  scryptMinN: 1024,
  /** 128·N·r bytes of memory. */
  scryptMaxMemory: 128 * 1024 * 1024,
  /** N·r·p: the work factor. */
  scryptMaxWork: 4 * 32768 * 8,
  argon2MaxMemoryKiB: 262_144,
  argon2MaxPasses: 10,
  /** memory·passes in KiB. */
  argon2MaxWork: 1024 * 1024,
  maxParallelism: 16,
  /** Longer passwords are refused before any hashing (a megabyte password is not a password). */
  maxPasswordLength: 1024,
});

export type ParsedHash =
  | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { kind: 'argon2'; algorithm: 'argon2id' | 'argon2i' | 'argon2d'; memory: number; passes: number; parallelism: number; salt: Buffer; hash: Buffer };

/** Either base64 alphabet, padded or not (Node's decoder reads both alphabets). */
const B64 = '([A-Za-z0-9+/_-]+={0,2})';
const SCRYPT_RE = new RegExp(`^scrypt\\$(\\d{1,8})\\$(\\d{1,3})\\$(\\d{1,3})\\$${B64}\\$${B64}$`);
const ARGON2_RE = new RegExp(`^\\$(argon2id|argon2i|argon2d)\\$(?:v=19\\$)?m=(\\d{1,8}),t=(\\d{1,3}),p=(\\d{1,3})\\$${B64}\\$${B64}$`);

function decode(s: string): Buffer | undefined {
  // mixing the two alphabets in one field is no encoder's output
  if (/[+/]/.test(s) && /[-_]/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

function checkKey(salt: Buffer | undefined, hash: Buffer | undefined): salt is Buffer {
  return !!salt && !!hash && salt.length >= 8 && salt.length <= 64 && hash.length >= 16 && hash.length <= 64;
}

/** The parameters of a stored hash, or undefined when it is not one (or its cost is out of bounds). */
export function parseHash(stored: string): ParsedHash | undefined {
  const s = stored.trim();
  const a = ARGON2_RE.exec(s);
  if (a) {
    const [memory, passes, parallelism] = [Number(a[2]), Number(a[3]), Number(a[4])];
    if (memory < 8 * parallelism || memory > LIMITS.argon2MaxMemoryKiB || passes < 1 || passes > LIMITS.argon2MaxPasses) return undefined;
    if (memory * passes > LIMITS.argon2MaxWork || parallelism < 1 || parallelism > LIMITS.maxParallelism) return undefined;
    const [salt, hash] = [decode(a[5]!), decode(a[6]!)];
    if (!checkKey(salt, hash)) return undefined;
    return { kind: 'argon2', algorithm: a[1] as 'argon2id', memory, passes, parallelism, salt, hash: hash! };
  }
  const m = SCRYPT_RE.exec(s);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < LIMITS.scryptMinN || (N & (N - 1)) !== 0 || r < 1 || p < 1 || p > LIMITS.maxParallelism) return undefined;
  if (128 * N * r > LIMITS.scryptMaxMemory || N * r * p > LIMITS.scryptMaxWork) return undefined;
  const [salt, hash] = [decode(m[4]!), decode(m[5]!)];
  if (!checkKey(salt, hash)) return undefined;
  return { kind: 'scrypt', N, r, p, salt, hash: hash! };
}

function scryptKey(password: string, h: { N: number; r: number; p: number; salt: Buffer }, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: 128·N·r plus headroom (Node's default cap of 32 MiB is exactly the default parameters)
    scrypt(password, h.salt, keylen, { N: h.N, r: h.r, p: h.p, maxmem: 128 * h.N * h.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function argon2Key(password: string, h: Extract<ParsedHash, { kind: 'argon2' }>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      h.algorithm,
      { message: password, nonce: h.salt, parallelism: h.parallelism, tagLength: h.hash.length, memory: h.memory, passes: h.passes },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** A new hash of `password` in the one format (see the top of this file). */
export async function hashPassword(password: string, opts: { N?: number; r?: number; p?: number } = {}): Promise<string> {
  const { N, r, p } = { ...SCRYPT_DEFAULTS, ...opts };
  const salt = randomBytes(SALTLEN);
  const key = await scryptKey(password.normalize('NFC'), { N, r, p, salt }, KEYLEN);
  const out = `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  if (!parseHash(out)) throw new RangeError(`scrypt parameters N=${N} r=${r} p=${p} are outside moat's bounds`);
  return out;
}

/** Whether `password` matches `stored` (a string or a parsed hash); compared in constant time. A bad hash never matches. */
export async function verifyPassword(password: string, stored: string | ParsedHash): Promise<boolean> {
  const h = typeof stored === 'string' ? parseHash(stored) : stored;
  if (!h || password.length > LIMITS.maxPasswordLength) return false;
  const pw = password.normalize('NFC');
  const got = h.kind === 'argon2' ? await argon2Key(pw, h) : await scryptKey(pw, h, h.hash.length);
  return got.length === h.hash.length && timingSafeEqual(got, h.hash);
}

let dummy: Promise<ParsedHash> | undefined;

/** A hash of the default cost that nothing matches: checked for unknown users so they cost what known ones do. */
export function dummyHash(): Promise<ParsedHash> {
  dummy ??= hashPassword(randomBytes(16).toString('base64url')).then((s) => parseHash(s)!);
  return dummy;
}
