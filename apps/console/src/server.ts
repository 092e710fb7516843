// The console's HTTP server (node:http): routes to login (login.ts), the dashboard and its JSON API (api.ts).
// Trusts only a valid session cookie plus, on every POST, that session's CSRF token; binds where settings say (loopback by default).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Logger, type Registry } from '@moat/observe';
import { createApi } from './api.ts';
import type { ConsoleSettings } from './console-settings.ts';
import { body, cookies, HttpError, json, redirect, STATIC, send } from './http.ts';
import { createLogin } from './login.ts';
import { dashboardPage } from './pages.ts';
import type { ConsoleServices } from './services.ts';
import { createSessions, sameToken } from './sessions.ts';

export type { ConsoleSettings } from './console-settings.ts';

export interface ConsoleServerOptions {
  settings: ConsoleSettings;
  services: ConsoleServices;
  /** Shown in the page title (policy.hostname). */
  hostname: string;
  logger: Logger;
  registry: Registry;
}

export interface RunningConsole {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function startConsole(opts: ConsoleServerOptions): Promise<RunningConsole> {
  const { settings, services, logger } = opts;
  const sessions = createSessions();
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Strict${settings.secureCookie ? '; Secure' : ''}`;
  const { showLogin, login } = createLogin({ settings, sessions, cookieAttrs, logger, registry: opts.registry });
  const actions = new Counter({
    name: 'moat_console_actions_total',
    help: 'Console admin actions by action and result',
    labelNames: ['action', 'result'] as const,
    registers: [opts.registry],
  });
  const api = createApi({ settings, services, logger, actions });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const staticFile = STATIC.get(path);
    if (method === 'GET' && staticFile) return send(res, 200, staticFile.type, staticFile.body, { 'cache-control': 'no-cache' });
    if (method === 'GET' && path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (path === '/login') {
      if (method === 'GET') return showLogin(req, res, 200);
      if (method === 'POST') return login(req, res);
    }
    const sid = cookies(req).moat_session;
    const s = sessions.get(sid);
    if (path === '/logout' && method === 'POST') {
      const form = new URLSearchParams(await body(req));
      if (s && sameToken(form.get('csrf') ?? undefined, s.csrf)) {
        sessions.destroy(sid);
        logger.info({ event: 'console-logout', user: s.user }, 'console logout');
      }
      return redirect(res, '/login', { 'set-cookie': `moat_session=; Max-Age=0; ${cookieAttrs}` });
    }
    if (!s) {
      if (method === 'GET' && path === '/') return redirect(res, '/login');
      if (path.startsWith('/api/')) return json(res, 401, { error: 'log in first' });
      throw new HttpError(404, 'not found');
    }
    if (method === 'GET' && path === '/') {
      return send(res, 200, 'text/html; charset=utf-8', dashboardPage({ user: s.user, csrf: s.csrf, pollMs: settings.pollMs, hostname: opts.hostname }));
    }
    if (path.startsWith('/api/')) return api(req, res, s, path, url.searchParams);
    throw new HttpError(404, 'not found');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof SyntaxError ? 400 : 503;
      if (status === 503) logger.warn({ event: 'console-error', err: { message: (e as Error).message }, url: req.url }, 'console request failed');
      if (!res.headersSent) json(res, status, { error: (e as Error).message });
      else res.end();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        server,
        url: `http://${host}:${a.port}`,
        async close() {
          sessions.close();
          server.closeAllConnections();
          await new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}
