// The SMTP users file: `user:hash` lines (hash as in password.ts), `#` comments and blank lines; read and edited as text.
// Trusts nothing in the file beyond its syntax: every line is checked, and a bad line is reported with its number.
import { type ParsedHash, parseHash } from './password.ts';

export interface UsersFileError {
  /** 1-based line number. */
  line: number;
  message: string;
}

export interface ParsedUsersFile {
  /** Lower-cased user name → hash. */
  users: Map<string, ParsedHash>;
  errors: UsersFileError[];
}

/** A user name: no white space, no `:`, no control character, not a comment; at most 256 characters. */
export function validUserName(user: string): boolean {
  return user.length > 0 && user.length <= 256 && !user.startsWith('#') && !/[\s:\u0000-\u001f\u007f]/.test(user);
}

interface Line {
  user?: string;
  raw: string;
}

function lines(text: string): Line[] {
  const out = text.split(/\r?\n/).map((raw): Line => {
    const t = raw.trim();
    if (!t || t.startsWith('#')) return { raw };
    const c = t.indexOf(':');
    return c > 0 ? { raw, user: t.slice(0, c).toLowerCase() } : { raw };
  });
  if (out.length > 0 && out[out.length - 1]!.raw === '') out.pop();
  return out;
}

/** Every line checked; the good ones in `users`, the bad ones (and second lines for one user) in `errors`. */
export function parseUsersFile(text: string): ParsedUsersFile {
  const users = new Map<string, ParsedHash>();
  const errors: UsersFileError[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (!t || t.startsWith('#')) return;
    const c = t.indexOf(':');
    const user = c > 0 ? t.slice(0, c).toLowerCase() : '';
    if (!validUserName(user)) {
      errors.push({ line: i + 1, message: 'expected user:hash (a user name without spaces or colons)' });
      return;
    }
    const parsed = parseHash(t.slice(c + 1));
    if (!parsed) {
      errors.push({ line: i + 1, message: 'expected user:scrypt$N$r$p$salt$hash or user:$argon2id$v=19$m=...,t=...,p=...$salt$hash within moat\'s cost bounds' });
      return;
    }
    if (users.has(user)) {
      errors.push({ line: i + 1, message: 'a second line for the same user' });
      return;
    }
    users.set(user, parsed);
  });
  return { users, errors };
}

/** The users named in the file with the kind of their hash (`invalid` for a line that does not parse), in file order. */
export function listUsers(text: string): Array<{ user: string; kind: 'scrypt' | 'argon2' | 'invalid'; line: number }> {
  const out: Array<{ user: string; kind: 'scrypt' | 'argon2' | 'invalid'; line: number }> = [];
  lines(text).forEach((l, i) => {
    if (l.user === undefined) return;
    const h = parseHash(l.raw.trim().slice(l.raw.trim().indexOf(':') + 1));
    out.push({ user: l.user, kind: h?.kind ?? 'invalid', line: i + 1 });
  });
  return out;
}

/** The file with `user`'s line replaced (in place) or appended; comments and other lines kept as they are. */
export function setUser(text: string, user: string, hash: string): string {
  const name = user.toLowerCase();
  if (!validUserName(name)) throw new RangeError(`not a valid user name: ${JSON.stringify(user)}`);
  if (!parseHash(hash)) throw new RangeError('not a hash moat reads');
  const ls = lines(text);
  const line = `${name}:${hash}`;
  let done = false;
  const out: string[] = [];
  for (const l of ls) {
    if (l.user !== name) out.push(l.raw);
    else if (!done) {
      out.push(line);
      done = true;
    }
  }
  if (!done) out.push(line);
  return `${out.join('\n')}\n`;
}

/** The file without `user`'s line(s); `removed` says whether there was one. */
export function removeUser(text: string, user: string): { text: string; removed: boolean } {
  const name = user.toLowerCase();
  const ls = lines(text);
  const kept = ls.filter((l) => l.user !== name);
  return { text: kept.length ? `${kept.map((l) => l.raw).join('\n')}\n` : '', removed: kept.length !== ls.length };
}

export function hasUser(text: string, user: string): boolean {
  const name = user.toLowerCase();
  return lines(text).some((l) => l.user === name);
}
