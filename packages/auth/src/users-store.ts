// The users file as the MX holds it: loaded at start, re-read when it changes (file watch, SIGHUP, a slow poll).
// Trusts the file's owner, not its syntax: a reload with a bad line keeps the last good set and names the line.
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Counter, Gauge, type Logger, metricOnce, type Registry } from '@moat/observe';
import type { ParsedHash } from './password.ts';
import { parseUsersFile } from './users-file.ts';

/** What the authenticator needs: a lookup by lower-cased user name. */
export interface UsersSource {
  get(user: string): ParsedHash | undefined;
  readonly size: number;
}

export type ReloadResult = 'loaded' | 'unchanged' | 'rejected' | 'unreadable';

export interface UsersFile extends UsersSource {
  readonly file: string;
  /** Re-reads the file now; `why` goes to the log line (`sighup`, `watch`, `poll`). */
  reload(why?: string): Promise<ReloadResult>;
  close(): void;
}

export interface UsersFileOptions {
  file: string;
  logger: Logger;
  registry: Registry;
  /** Re-read on change (inotify on the directory, so a rename over the file is seen). Default true. */
  watch?: boolean;
  /**
   * Also compare the file's stat every pollMs (default 10 s; 0 turns it off): a watch misses changes made
   * on another host of a shared mount.
   */
  pollMs?: number;
}

function metricsFor(registry: Registry) {
  const registers = [registry];
  return {
    users: metricOnce(registry, 'moat_auth_users', () => new Gauge({ name: 'moat_auth_users', help: 'SMTP AUTH users loaded from the users file', registers })),
    reloads: metricOnce(
      registry,
      'moat_auth_users_reloads_total',
      () =>
        new Counter({
          name: 'moat_auth_users_reloads_total',
          help: 'Reads of the users file by result: loaded (a new set in use), unchanged, rejected (a bad line: the last good set kept), unreadable',
          labelNames: ['result'],
          registers,
        }),
    ),
    badLines: metricOnce(
      registry,
      'moat_auth_users_file_bad_lines_total',
      () => new Counter({ name: 'moat_auth_users_file_bad_lines_total', help: 'Malformed lines found in the users file (each read counts them again)', registers }),
    ),
  };
}

/**
 * Loads the users file (throws when it cannot be read at start). At start a bad line is skipped, since there
 * is no earlier set to keep; on a reload any bad line rejects the whole new version.
 */
export async function openUsersFile(opts: UsersFileOptions): Promise<UsersFile> {
  const { file, logger } = opts;
  const m = metricsFor(opts.registry);
  const log = logger.child({ event: 'users-file', file });
  let text = await readFile(file, 'utf8');
  const first = parseUsersFile(text);
  for (const e of first.errors) log.warn({ line: e.line, err: e.message }, 'users file: line skipped');
  m.badLines.inc(first.errors.length);
  m.reloads.inc({ result: first.errors.length ? 'rejected' : 'loaded' }, 0);
  let users = first.users;
  m.users.set(users.size);
  let last = await stat(file).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => '');

  let running: Promise<ReloadResult> | undefined;
  let again = false;
  const readOnce = async (why: string): Promise<ReloadResult> => {
    let next: string;
    try {
      last = await stat(file).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`);
      next = await readFile(file, 'utf8');
    } catch (e) {
      m.reloads.inc({ result: 'unreadable' });
      log.error({ why, err: (e as NodeJS.ErrnoException).code ?? String(e) }, 'users file unreadable: keeping the last good set');
      return 'unreadable';
    }
    if (next === text) {
      m.reloads.inc({ result: 'unchanged' });
      return 'unchanged';
    }
    const parsed = parseUsersFile(next);
    if (parsed.errors.length) {
      m.badLines.inc(parsed.errors.length);
      m.reloads.inc({ result: 'rejected' });
      for (const e of parsed.errors) log.error({ why, line: e.line, err: e.message }, 'users file: bad line, keeping the last good set');
      // the same bad text is not reported again until it changes
      text = next;
      return 'rejected';
    }
    text = next;
    users = parsed.users;
    m.users.set(users.size);
    m.reloads.inc({ result: 'loaded' });
    log.info({ why, users: users.size }, 'users file reloaded');
    return 'loaded';
  };
  // one read at a time; a change during a read triggers one more read after it
  const reload = (why = 'reload'): Promise<ReloadResult> => {
    if (running) {
      again = true;
      return running;
    }
    running = readOnce(why).finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void reload(why);
      }
    });
    return running;
  };

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (opts.watch !== false) {
    try {
      const name = basename(file);
      watcher = watch(dirname(file), { persistent: false }, (_type, changed) => {
        if (changed !== null && changed !== name) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload('watch'), 50);
        debounce.unref();
      });
      watcher.on('error', (e) => log.warn({ err: String(e) }, 'users file watch failed: SIGHUP and the poll still reload'));
    } catch (e) {
      log.warn({ err: String(e) }, 'users file cannot be watched: SIGHUP and the poll still reload');
    }
  }
  const pollMs = opts.pollMs ?? 10_000;
  const poll =
    pollMs > 0
      ? setInterval(() => {
          void stat(file).then(
            (s) => {
              if (`${s.ino}:${s.size}:${s.mtimeMs}` !== last) void reload('poll');
            },
            () => {},
          );
        }, pollMs).unref()
      : undefined;

  return {
    file,
    get: (user) => users.get(user.toLowerCase()),
    get size() {
      return users.size;
    },
    reload,
    close() {
      watcher?.close();
      clearTimeout(debounce);
      if (poll) clearInterval(poll);
    },
  };
}

/** A fixed set (tests, and callers that hold users in memory). */
export function staticUsers(users: ReadonlyMap<string, ParsedHash> | Record<string, ParsedHash>): UsersSource {
  const map = users instanceof Map ? new Map([...users].map(([k, v]) => [k.toLowerCase(), v])) : new Map(Object.entries(users).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (u) => map.get(u.toLowerCase()), size: map.size };
}
