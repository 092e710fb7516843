// The users file as the MX holds it: real files in a temp dir, reloaded by watch and on demand; atomic edits.
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, createRegistry } from '@moat/observe';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuthenticator, FailureLimiter, hashPassword, openUsersFile, setUser, type UsersFile, withFileLock, writeFileAtomic } from '../src/index.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger('test', { level: 'debug', destination }) };
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

const open: UsersFile[] = [];
afterEach(() => {
  for (const u of open.splice(0)) u.close();
});

describe('users file store', async () => {
  const pw = await hashPassword('pw', { N: 1024 });
  const pw2 = await hashPassword('pw2', { N: 1024 });

  it('picks up an atomic rewrite through the directory watch, and the authenticator uses it at the next AUTH', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-auth-'));
    const file = join(dir, 'users');
    writeFileSync(file, `alice:${pw}\n`);
    const { logger, lines } = capture();
    const registry = createRegistry();
    const users = await openUsersFile({ file, logger, registry, pollMs: 0 });
    open.push(users);
    const auth = createAuthenticator(users, new FailureLimiter(100, 60_000));
    expect((await auth.authenticate('192.0.2.1', 'bob', 'pw2')).ok).toBe(false);
    await writeFileAtomic(file, setUser(readFileSync(file, 'utf8'), 'bob', pw2));
    await until(() => users.get('bob') !== undefined, 'bob loaded');
    expect(await auth.authenticate('192.0.2.1', 'Bob', 'pw2')).toEqual({ ok: true, user: 'bob' });
    expect(lines.some((l) => l.msg === 'users file reloaded' && l.why === 'watch' && l.users === 2)).toBe(true);
    expect(await registry.getSingleMetricAsString('moat_auth_users')).toContain('moat_auth_users 2');
  });

  it('a bad line keeps the last good set, logs the line number, and counts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-auth-'));
    const file = join(dir, 'users');
    writeFileSync(file, `alice:${pw}\n`);
    const { logger, lines } = capture();
    const registry = createRegistry();
    const users = await openUsersFile({ file, logger, registry, watch: false, pollMs: 0 });
    open.push(users);
    writeFileSync(file, `# header\nbob:${pw2}\nalice:scrypt$oops\n`);
    expect(await users.reload('sighup')).toBe('rejected');
    expect(users.get('alice')).toBeDefined();
    expect(users.get('bob')).toBeUndefined();
    const bad = lines.find((l) => l.msg === 'users file: bad line, keeping the last good set');
    expect(bad).toMatchObject({ line: 3, why: 'sighup', file, level: 50 });
    // no hash text in any log line
    expect(JSON.stringify(lines)).not.toContain(pw2.slice(20));
    expect(await registry.getSingleMetricAsString('moat_auth_users_file_bad_lines_total')).toContain('moat_auth_users_file_bad_lines_total 1');
    expect(await registry.getSingleMetricAsString('moat_auth_users_reloads_total')).toContain('result="rejected"} 1');
    // unchanged bad text is not reported again; a fixed file loads
    expect(await users.reload('sighup')).toBe('unchanged');
    writeFileSync(file, `bob:${pw2}\n`);
    expect(await users.reload('sighup')).toBe('loaded');
    expect(users.get('alice')).toBeUndefined();
    expect(users.get('bob')).toBeDefined();
  });

  it('at start, with no earlier set, skips a bad line and loads the rest; an unreadable reload keeps the set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-auth-'));
    const file = join(dir, 'users');
    writeFileSync(file, `bad line\nalice:${pw}\n`);
    const { logger, lines } = capture();
    const users = await openUsersFile({ file, logger, registry: createRegistry(), watch: false, pollMs: 0 });
    open.push(users);
    expect(users.size).toBe(1);
    expect(lines.find((l) => l.msg === 'users file: line skipped')).toMatchObject({ line: 1 });
    chmodSync(dir, 0o000);
    const r = await users.reload();
    chmodSync(dir, 0o700);
    // root reads through the mode bits: either way the set stays
    expect(['unreadable', 'unchanged']).toContain(r);
    expect(users.size).toBe(1);
    await expect(openUsersFile({ file: join(dir, 'missing'), logger, registry: createRegistry() })).rejects.toThrow(/ENOENT/);
  });

  it('writeFileAtomic keeps the mode, leaves no temp file, and creates new files 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-auth-'));
    const file = join(dir, 'users');
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o640);
    const ino = statSync(file).ino;
    await writeFileAtomic(file, 'new\n');
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(statSync(file).ino).not.toBe(ino);
    await writeFileAtomic(join(dir, 'fresh'), 'x\n');
    expect(statSync(join(dir, 'fresh')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['fresh', 'users']);
  });

  it('writeFileAtomic gives a new file its directory\'s owner, and keeps an existing file\'s owner (as root)', async () => {
    if (process.getuid?.() !== 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'moat-auth-'));
    chownSync(dir, 10025, 10025);
    await writeFileAtomic(join(dir, 'users'), 'x\n');
    expect(statSync(join(dir, 'users'))).toMatchObject({ uid: 10025, gid: 10025 });
    chownSync(join(dir, 'users'), 10026, 10027);
    await writeFileAtomic(join(dir, 'users'), 'y\n');
    expect(statSync(join(dir, 'users'))).toMatchObject({ uid: 10026, gid: 10027 });
  });

  it('withFileLock serialises concurrent edits: none is lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-auth-'));
    const file = join(dir, 'users');
    writeFileSync(file, '');
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((u) => withFileLock(file, async () => writeFileAtomic(file, setUser(readFileSync(file, 'utf8'), u, pw)))),
    );
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(4);
    expect(readdirSync(dir)).toEqual(['users']);
  });
});
