// `moat user add|passwd|del|list`: the SMTP AUTH users file (mx.auth.users_file) edited from the command line.
// Trusts the local operator; writes the file atomically under a lock (mode and owner kept). The MX re-reads it by itself.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { generatePassword, hashPassword, hasUser, listUsers, removeUser, setUser, validUserName, withFileLock, writeFileAtomic } from '@moat/auth';
import { parseArgs, safe, table, UsageError } from './args.ts';
import { CommandError, guard, loadConfigOrFail } from './context.ts';
import type { Command, Io } from './types.ts';

const USAGE = `add NAME | passwd NAME | del NAME | list   [--file USERS_FILE | --config FILE] [--password-stdin] [--json]
  add      a new user; the password is read from stdin with --password-stdin, else generated and printed once
  passwd   a new password for an existing user (same sources)
  del      remove a user
  list     the users and the kind of their hash
  The file is mx.auth.users_file of moat.yaml unless --file names it; the MX picks up the change within seconds
  (or at once on SIGHUP).`;

const MIN_PASSWORD = 8;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function readOrEmpty(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

function usersFile(values: Record<string, string>): string {
  if (values.file) return values.file;
  const config = loadConfigOrFail(values.config);
  const f = config.mx.auth.users_file;
  if (!f) throw new CommandError('moat.yaml has no mx.auth.users_file: set it, or name the file with --file');
  return f;
}

async function newPassword(fromStdin: boolean): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: generatePassword(), generated: true };
  const password = await readStdin();
  if (password.length < MIN_PASSWORD) throw new CommandError(`give a password of ${MIN_PASSWORD} characters or more on stdin`);
  if (/[\r\n\0]/.test(password)) throw new CommandError('the password on stdin has a line break or NUL in it');
  return { password, generated: false };
}

function say(io: Io, json: boolean, result: Record<string, unknown>, text: string): void {
  io.out.write(json ? `${JSON.stringify(result)}\n` : `${text}\n`);
}

export const userCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('user', USAGE, io, async () => {
      const a = parseArgs(args, { values: ['config', 'file'], flags: ['json', 'password-stdin'] });
      const [sub, name, ...extra] = a.positionals;
      const json = a.flags.has('json');
      if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
      if (sub === 'list') {
        if (name !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(name)}`);
        const file = usersFile(a.values);
        if (!existsSync(file)) throw new CommandError(`${file}: no such file`);
        const users = listUsers(await readFile(file, 'utf8'));
        if (json) io.out.write(`${JSON.stringify({ file, users })}\n`);
        else if (users.length === 0) io.out.write(`no users in ${file}\n`);
        else io.out.write(`${table([['user', 'hash', 'line'], ...users.map((u) => [safe(u.user), u.kind, String(u.line)])])}\n`);
        return users.some((u) => u.kind === 'invalid') ? 1 : 0;
      }
      if (sub !== 'add' && sub !== 'passwd' && sub !== 'del') throw new UsageError(sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`);
      if (name === undefined) throw new UsageError('a user NAME is required');
      if (!validUserName(name)) throw new UsageError(`${JSON.stringify(name)} is not a user name (no spaces, colons, control characters or leading #)`);
      if (sub === 'del' && a.flags.has('password-stdin')) throw new UsageError('--password-stdin is for add and passwd');
      const file = usersFile(a.values);
      const user = name.toLowerCase();
      // the password is read and hashed before the lock is taken: a slow stdin does not hold other edits
      const pw = sub === 'del' ? undefined : await newPassword(a.flags.has('password-stdin'));
      const hash = pw ? await hashPassword(pw.password) : undefined;
      await withFileLock(file, async () => {
        const text = await readOrEmpty(file);
        const exists = hasUser(text, user);
        if (sub === 'add' && exists) throw new CommandError(`user ${user} exists in ${file} (use moat user passwd)`);
        if (sub !== 'add' && !exists) throw new CommandError(`no user ${user} in ${file}`);
        const next = sub === 'del' ? removeUser(text, user).text : setUser(text, user, hash!);
        await writeFileAtomic(file, next);
      });
      const action = sub === 'add' ? 'added' : sub === 'passwd' ? 'password changed' : 'deleted';
      const shown = pw?.generated ? pw.password : undefined;
      say(io, json, { file, user, action, ...(shown ? { password: shown } : {}) }, `${action}: ${user} in ${file}${shown ? `\npassword: ${shown}` : ''}`);
      return 0;
    });
  },
};
