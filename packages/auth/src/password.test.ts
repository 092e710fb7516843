import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, LIMITS, parseHash, verifyPassword } from './password.ts';

/** A hash as moat-mx wrote it before @moat/auth: standard base64, padded. */
function legacyMx(password: string, N = 1024, salt = Buffer.from('0123456789abcdef')): string {
  const key = scryptSync(password, salt, 32, { N, r: 8, p: 1 });
  return `scrypt$${N}$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}

describe('password hashes', () => {
  it('writes scrypt$N$r$p$salt$key in unpadded base64url and checks it', async () => {
    const h = await hashPassword('correct horse', { N: 1024 });
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct horsE', h)).toBe(false);
    expect(await verifyPassword('correct horse', parseHash(h)!)).toBe(true);
  });

  it('defaults to N=32768 r=8 p=1', async () => {
    expect(await hashPassword('x')).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('reads the MX users file\'s old standard-base64 hashes (with + / =)', async () => {
    // a salt whose base64 has + and /, as the old writer produced
    const salt = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const h = legacyMx('pw', 1024, salt);
    expect(h).toMatch(/[+/]/);
    expect(h).toMatch(/=$/);
    expect(await verifyPassword('pw', h)).toBe(true);
    expect(await verifyPassword('pW', h)).toBe(false);
  });

  it('reads the console\'s base64url hashes (with - and _)', async () => {
    const salt = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const key = scryptSync('pw', salt, 32, { N: 1024, r: 8, p: 1 });
    const h = `scrypt$1024$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(h).toMatch(/[-_]/);
    expect(await verifyPassword('pw', h)).toBe(true);
  });

  it('normalises to NFC: a decomposed é matches the composed one', async () => {
    const h = await hashPassword('caf\u00e9', { N: 1024 });
    expect(await verifyPassword('cafe\u0301', h)).toBe(true);
  });

  it('reads PHC argon2id strings', async () => {
    const { argon2Sync } = await import('node:crypto');
    const salt = Buffer.from('saltsaltsaltsalt');
    const tag = argon2Sync('argon2id', { message: 'pw', nonce: salt, parallelism: 1, tagLength: 32, memory: 64, passes: 2 });
    const h = `$argon2id$v=19$m=64,t=2,p=1$${salt.toString('base64').replace(/=+$/, '')}$${tag.toString('base64').replace(/=+$/, '')}`;
    expect(parseHash(h)?.kind).toBe('argon2');
    expect(await verifyPassword('pw', h)).toBe(true);
    expect(await verifyPassword('px', h)).toBe(false);
  });

  it('refuses hashes whose cost is out of bounds (a hostile line cannot cost minutes or gigabytes)', () => {
    const s = 'c2FsdHNhbHRzYWx0c2FsdA';
    const k = 'a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U';
    expect(parseHash(`scrypt$32768$8$1$${s}$${k}`)).toBeDefined();
    expect(parseHash(`scrypt$1048576$8$1$${s}$${k}`)).toBeUndefined(); // 1 GiB
    expect(parseHash(`scrypt$32768$8$8$${s}$${k}`)).toBeUndefined(); // 8x the work
    expect(parseHash(`scrypt$32768$8$4$${s}$${k}`)).toBeDefined(); // 4x: the bound
    expect(parseHash(`scrypt$131072$8$1$${s}$${k}`)).toBeDefined(); // OWASP's recommendation
    expect(parseHash(`scrypt$262144$8$1$${s}$${k}`)).toBeUndefined(); // 256 MiB
    expect(parseHash(`scrypt$1000$8$1$${s}$${k}`)).toBeUndefined(); // not a power of two
    expect(parseHash(`scrypt$16$8$1$${s}$${k}`)).toBeUndefined(); // too cheap
    expect(parseHash(`scrypt$99999999$8$1$${s}$${k}`)).toBeUndefined();
    expect(parseHash(`scrypt$4194304$1$1$${s}$${k}`)).toBeUndefined(); // 512 MiB with r=1
    expect(parseHash(`$argon2id$v=19$m=262144,t=10,p=1$${s}$${k}`)).toBeUndefined();
    expect(parseHash(`$argon2id$v=19$m=65536,t=3,p=4$${s}$${k}`)).toBeDefined();
    expect(parseHash(`$argon2id$v=19$m=262144,t=3,p=1$${s}$${k}`)).toBeDefined(); // libsodium MODERATE
    expect(parseHash(`$argon2id$v=19$m=262144,t=5,p=1$${s}$${k}`)).toBeUndefined();
    expect(parseHash(`$argon2id$v=19$m=65536,t=3,p=64$${s}$${k}`)).toBeUndefined();
    expect(LIMITS.scryptMaxWork).toBe(4 * 32768 * 8);
  });

  it('refuses malformed hashes and never matches them', async () => {
    for (const bad of ['', 'plain-text', 'scrypt$1024$8$1$$', 'scrypt$1024$8$1$c2FsdA$a2V5', 'scrypt$1024$8$1$ab+_cdefghijklmn$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U']) {
      expect(parseHash(bad)).toBeUndefined();
      expect(await verifyPassword('x', bad)).toBe(false);
    }
  });

  it('refuses a password longer than 1024 characters without hashing it', async () => {
    const h = await hashPassword('x'.repeat(1025), { N: 1024 });
    expect(await verifyPassword('x'.repeat(1025), h)).toBe(false);
  });

  it('refuses to write parameters it would not read', async () => {
    await expect(hashPassword('x', { N: 1000 })).rejects.toThrow(RangeError);
  });
});
