// The console's login: the form with its pre-login CSRF token, the password check (always hashed, throttled per
// address) and the session cookie. Trusts only the admin password hash; the form is untrusted input.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyPassword } from '@moat/auth';
import { Counter, type Logger, type Registry } from '@moat/observe';
import type { ConsoleSettings } from './console-settings.ts';
import { body, cookies, redirect, send } from './http.ts';
import { loginPage } from './pages.ts';
import { type Sessions, sameToken, token } from './sessions.ts';

export interface LoginOptions {
  settings: ConsoleSettings;
  sessions: Sessions;
  /** The cookie attributes every console cookie carries. */
  cookieAttrs: string;
  logger: Logger;
  registry: Registry;
}

export interface Login {
  /** GET /login (and a refused POST): the form, with a pre-login token. */
  showLogin(req: IncomingMessage, res: ServerResponse, status: number, error?: string, user?: string): void;
  /** POST /login. */
  login(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createLogin(o: LoginOptions): Login {
  const { settings, sessions, cookieAttrs, logger } = o;
  const logins = new Counter({ name: 'moat_console_logins_total', help: 'Console login attempts by result', labelNames: ['result'] as const, registers: [o.registry] });
  const showLogin = (req: IncomingMessage, res: ServerResponse, status: number, error?: string, user?: string): void => {
    // Keep a pre-login token the browser already holds: two tabs (or a favicon fetch) must not invalidate the form.
    const held = cookies(req).moat_login;
    const pre = held && /^[A-Za-z0-9_-]{43}$/.test(held) && status === 200 ? held : token();
    send(res, status, 'text/html; charset=utf-8', loginPage({ csrf: pre, error, user }), { 'set-cookie': `moat_login=${pre}; Max-Age=900; ${cookieAttrs}` });
  };

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ip = req.socket.remoteAddress ?? '?';
    const form = new URLSearchParams(await body(req));
    if (!sameToken(form.get('csrf') ?? undefined, cookies(req).moat_login)) {
      logins.inc({ result: 'csrf' });
      return showLogin(req, res, 403, 'Your login form expired: please try again.');
    }
    if (!sessions.mayTry(ip)) {
      logins.inc({ result: 'throttled' });
      logger.warn({ event: 'console-login', result: 'throttled', ip }, 'console login refused: too many failures');
      return showLogin(req, res, 429, 'Too many failed logins from your address: wait a few minutes.');
    }
    const user = (form.get('user') ?? '').slice(0, 128);
    const password = form.get('password') ?? '';
    // Always run the hash, so a wrong user name takes as long as a wrong password.
    const passOk = await verifyPassword(password, settings.passwordHash);
    if (!(passOk && sameToken(user, settings.user))) {
      sessions.failed(ip);
      logins.inc({ result: 'failure' });
      logger.warn({ event: 'console-login', result: 'failure', ip, user }, 'console login failed');
      return showLogin(req, res, 401, 'Wrong user name or password.', user);
    }
    const s = sessions.create(user);
    logins.inc({ result: 'success' });
    logger.info({ event: 'console-login', result: 'success', ip, user }, 'console login');
    redirect(res, '/', { 'set-cookie': [`moat_session=${s.id}; ${cookieAttrs}`, `moat_login=; Max-Age=0; ${cookieAttrs}`] });
  }
  return { showLogin, login };
}
