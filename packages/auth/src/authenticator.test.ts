import { describe, expect, it } from 'vitest';
import { createAuthenticator, FailureLimiter } from './authenticator.ts';
import { hashPassword, parseHash } from './password.ts';
import { staticUsers } from './users-store.ts';

describe('authenticator', () => {
  it('limits failures per client in a sliding window', () => {
    let now = 0;
    const l = new FailureLimiter(2, 1000, () => now);
    l.fail('a');
    l.fail('a');
    expect(l.blocked('a')).toBe(true);
    expect(l.blocked('b')).toBe(false);
    now = 1500;
    expect(l.blocked('a')).toBe(false);
  });

  it('accepts the right password (name case-insensitive), refuses others with 535, then 454 at the limit', async () => {
    const users = staticUsers({ Alice: parseHash(await hashPassword('pw', { N: 1024 }))! });
    const auth = createAuthenticator(users, new FailureLimiter(2, 60_000));
    expect(await auth.authenticate('192.0.2.1', 'ALICE', 'pw')).toEqual({ ok: true, user: 'alice' });
    expect(await auth.authenticate('192.0.2.1', 'alice', 'nope')).toMatchObject({ ok: false, code: 535, reason: 'bad-credentials' });
    expect(await auth.authenticate('192.0.2.1', 'mallory', 'pw')).toMatchObject({ ok: false, code: 535 });
    expect(await auth.authenticate('192.0.2.1', 'alice', 'pw')).toMatchObject({ ok: false, code: 454, reason: 'rate-limited' });
    expect(await auth.authenticate('192.0.2.2', 'alice', 'pw')).toMatchObject({ ok: true });
  });

  it('takes an async, shared failure counter', async () => {
    const failed: string[] = [];
    const auth = createAuthenticator(staticUsers({}), { blocked: async (k) => failed.includes(k), fail: async (k) => void failed.push(k) });
    expect((await auth.authenticate('192.0.2.9', 'x', 'y')).ok).toBe(false);
    expect(await auth.authenticate('192.0.2.9', 'x', 'y')).toMatchObject({ code: 454 });
  });
});
