// `moat user add|passwd|del|list` through the real entry point, on a users file in a temp dir; the result is
// checked with the MX's own reader and authenticator (@moat/auth), so what the CLI writes is what the MX accepts.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAuthenticator, FailureLimiter, parseUsersFile, staticUsers } from '@moat/auth';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function moat(args: string[], input?: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', input, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function accepts(file: string, user: string, password: string): Promise<boolean> {
  const { users, errors } = parseUsersFile(readFileSync(file, 'utf8'));
  expect(errors).toEqual([]);
  return (await createAuthenticator(staticUsers(users), new FailureLimiter(100, 60_000)).authenticate('192.0.2.1', user, password)).ok;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moat-cli-user-'));
}

describe('moat user', { timeout: 60_000 }, () => {
  it('add generates a password the MX accepts, made of letters and digits only', async () => {
    const dir = tmp();
    const file = join(dir, 'users');
    const r = moat(['user', 'add', 'Alice', '--file', file]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const password = /^password: (\S+)$/m.exec(r.out)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9]{22}$/);
    expect(r.out).toContain(`added: alice in ${file}`);
    expect(await accepts(file, 'alice', password!)).toBe(true);
    // a new file is readable by its owner only, and no temp or lock file is left
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['users']);
    // the hash is in the one documented format
    expect(readFileSync(file, 'utf8')).toMatch(/^alice:scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}\n$/);
  });

  it('add --password-stdin --json, then passwd, list and del; mode and comments kept', async () => {
    const dir = tmp();
    const file = join(dir, 'users');
    writeFileSync(file, '# the MX users\n');
    chmodSync(file, 0o640);
    let r = moat(['user', 'add', 'bob', '--file', file, '--password-stdin', '--json'], 'first password\n');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ file, user: 'bob', action: 'added' });
    expect(await accepts(file, 'bob', 'first password')).toBe(true);

    r = moat(['user', 'add', 'bob', '--file', file, '--password-stdin'], 'another one\n');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`moat user: user bob exists in ${file} (use moat user passwd)\n`);

    r = moat(['user', 'passwd', 'BOB', '--file', file, '--json']);
    expect(r.code).toBe(0);
    const { password, action } = JSON.parse(r.out);
    expect(action).toBe('password changed');
    expect(await accepts(file, 'bob', password)).toBe(true);
    expect(await accepts(file, 'bob', 'first password')).toBe(false);

    moat(['user', 'add', 'carol', '--file', file]);
    r = moat(['user', 'list', '--file', file, '--json']);
    expect(JSON.parse(r.out).users).toEqual([
      { user: 'bob', kind: 'scrypt', line: 2 },
      { user: 'carol', kind: 'scrypt', line: 3 },
    ]);
    r = moat(['user', 'list', '--file', file]);
    expect(r.out).toMatch(/^user\s+hash\s+line\nbob\s+scrypt\s+2\ncarol\s+scrypt\s+3\n$/);

    r = moat(['user', 'del', 'bob', '--file', file]);
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^# the MX users\ncarol:scrypt\$[^\n]+\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    r = moat(['user', 'del', 'bob', '--file', file]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`moat user: no user bob in ${file}\n`);
  });

  it('takes the file from moat.yaml (mx.auth.users_file)', () => {
    const dir = tmp();
    const file = join(dir, 'users');
    const cfg = join(dir, 'moat.yaml');
    writeFileSync(cfg, `policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nmx:\n  auth:\n    users_file: ${file}\n`);
    expect(moat(['user', 'add', 'dave', '--config', cfg]).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^dave:/);
    writeFileSync(cfg, 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n');
    const r = moat(['user', 'list', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no mx.auth.users_file');
  });

  it('list exits 1 and marks a line the MX would refuse', () => {
    const dir = tmp();
    const file = join(dir, 'users');
    writeFileSync(file, 'eve:scrypt$1073741824$8$1$AAAA$AAAA\n');
    const r = moat(['user', 'list', '--file', file]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/eve\s+invalid\s+1/);
  });

  it('refuses bad names, short passwords and usage errors', () => {
    const file = join(tmp(), 'users');
    expect(moat(['user', 'add', 'a:b', '--file', file]).code).toBe(2);
    expect(moat(['user', 'add', 'has space', '--file', file]).code).toBe(2);
    expect(moat(['user', 'add', '--file', file]).code).toBe(2);
    expect(moat(['user', 'frob', 'x', '--file', file]).code).toBe(2);
    expect(moat(['user', 'del', 'x', '--password-stdin', '--file', file]).code).toBe(2);
    const r = moat(['user', 'add', 'x', '--file', file, '--password-stdin'], 'short\n');
    expect(r.code).toBe(1);
    expect(r.err).toContain('8 characters or more');
    expect(moat(['user', '--help']).code).toBe(0);
  });

  it('npm run stack -- adduser goes through moat user: adds, then replaces, in the one format, in the mounted directory', async () => {
    const { addUser } = await import('../../../scripts/stack.mjs');
    const dir = tmp();
    // a users file where older stacks kept it is moved into the mounted directory
    const { hashPassword } = await import('@moat/auth');
    writeFileSync(join(dir, 'auth-users'), `old:${await hashPassword('old password', { N: 1024 })}\n`);
    const generated: string = await addUser('Frank', { dir });
    expect(generated).toMatch(/^[A-Za-z0-9]{22}$/);
    const file = join(dir, 'auth', 'users');
    expect(await accepts(file, 'frank', generated)).toBe(true);
    expect(await accepts(file, 'old', 'old password')).toBe(true);
    expect(readdirSync(dir)).not.toContain('auth-users');
    expect(await addUser('frank', { dir, password: 'chosen password' })).toBe('chosen password');
    expect(await accepts(file, 'frank', 'chosen password')).toBe(true);
    expect(readFileSync(file, 'utf8').match(/^frank:/gm)).toHaveLength(1);
  });
});
