// The console's HTTP server (node:http): login, the dashboard, its JSON endpoints and the admin actions.
// Trusts only a valid session cookie plus, on every POST, that session's CSRF token; binds where settings say (loopback by default).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyPassword } from '@moat/auth';
import { type JournalEntry, summarize } from '@moat/journal';
import { Counter, type Logger, type Registry } from '@moat/observe';
import { parseCidr } from '@moat/policy';
import { checkMessage, isSpamdError } from '@moat/spamd';
import { dashboardPage, loginPage } from './pages.ts';
import { decisionCounters, scrape, zoneCounters } from './scrape.ts';
import type { ConsoleServices } from './services.ts';
import { groupSessions } from './mail-sessions.ts';
import { createSessions, type Session, sameToken, token } from './sessions.ts';
import { QuarantineInputError, quarantineApi } from './quarantine-api.ts';
import { withResolution } from './why.ts';
import { zoneView } from './zone-view.ts';
import type { ConsoleView } from '@moat/config';

/** The console's view of the config, with the admin password's hash checked present (main.ts refuses otherwise). */
export type ConsoleSettings = ConsoleView & { passwordHash: string };

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

const STATIC: Record<string, { type: string; body: Buffer }> = {
  '/static/console.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./static/console.js', import.meta.url)) },
  '/static/quarantine.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./static/quarantine.js', import.meta.url)) },
  '/static/console.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('./static/console.css', import.meta.url)) },
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const MAX_BODY = 64 * 1024;
const QUEUE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const WINDOW = 500;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function body(req: IncomingMessage, limit = MAX_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, 'request too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Decisions per minute by action over the last `minutes` (from the journal window). */
function perMinute(entries: readonly JournalEntry[], now: number, minutes = 30): { t: number; counts: Record<string, number> }[] {
  const start = Math.floor(now / 60_000) - minutes + 1;
  const buckets = Array.from({ length: minutes }, (_, i) => ({ t: (start + i) * 60_000, counts: {} as Record<string, number> }));
  for (const e of entries) {
    const b = buckets[Math.floor(e.time / 60_000) - start];
    if (b) b.counts[e.verdict.action] = (b.counts[e.verdict.action] ?? 0) + 1;
  }
  return buckets;
}

export function startConsole(opts: ConsoleServerOptions): Promise<RunningConsole> {
  const { settings, services, logger } = opts;
  const sessions = createSessions();
  const logins = new Counter({ name: 'moat_console_logins_total', help: 'Console login attempts by result', labelNames: ['result'] as const, registers: [opts.registry] });
  const actions = new Counter({
    name: 'moat_console_actions_total',
    help: 'Console admin actions by action and result',
    labelNames: ['action', 'result'] as const,
    registers: [opts.registry],
  });
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Strict${settings.secureCookie ? '; Secure' : ''}`;

  const send = (res: ServerResponse, status: number, type: string, payload: string | Buffer, extra: Record<string, string | string[]> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
    res.end(payload);
  };
  const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
  const redirect = (res: ServerResponse, to: string, extra: Record<string, string | string[]> = {}) => send(res, 303, 'text/plain', '', { location: to, ...extra });

  const showLogin = (req: IncomingMessage, res: ServerResponse, status: number, error?: string, user?: string) => {
    // Keep a pre-login token the browser already holds: two tabs (or a favicon fetch) must not invalidate the form.
    const held = cookies(req).moat_login;
    const pre = held && /^[A-Za-z0-9_-]{43}$/.test(held) && status === 200 ? held : token();
    send(res, status, 'text/html; charset=utf-8', loginPage({ csrf: pre, error, user }), { 'set-cookie': `moat_login=${pre}; Max-Age=900; ${cookieAttrs}` });
  };

  async function login(req: IncomingMessage, res: ServerResponse) {
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

  async function api(req: IncomingMessage, res: ServerResponse, s: Session, path: string, query: URLSearchParams) {
    const method = req.method ?? 'GET';
    if (method === 'POST') {
      if (!sameToken(req.headers['x-csrf-token'] as string | undefined, s.csrf)) throw new HttpError(403, 'missing or wrong CSRF token');
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'expected application/json');
    }
    // /api/learn carries a whole message (base64: 4/3 of spamd.max_size, and the JSON around it)
    const limit = path === '/api/learn' && services.learn ? Math.ceil((services.learn.maxBytes * 4) / 3) + 1024 : MAX_BODY;
    const parsed: unknown = method === 'POST' ? JSON.parse((await body(req, limit)) || '{}') : {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'expected a JSON object');
    const input = parsed as Record<string, unknown>;
    const audit = (action: string, result: string, detail: Record<string, unknown>) => {
      actions.inc({ action, result });
      logger.info({ event: 'console-action', user: s.user, action, result, ...detail }, `console ${action}`);
    };

    if (method === 'GET' && path === '/api/overview') {
      const [entries, scraped] = await Promise.all([services.journal.recent({ count: WINDOW }), scrape(settings.metricsUrls)]);
      const now = Date.now();
      const summary = summarize(entries);
      return json(res, 200, {
        now,
        journal: { ...summary, perMinute: perMinute(entries, now) },
        metrics: { sources: scraped.sources, decisions: decisionCounters(scraped.samples) },
        // both zone tables read this one view (journal, nodes' counters, health check), so they agree
        zones: zoneView(summary.byZone, zoneCounters(scraped.samples), services.dnslist?.health() ?? []),
      });
    }
    if (method === 'GET' && path === '/api/sessions') {
      // the recent list: one row per SMTP session with its final outcome, its steps for the expanded view
      const count = Math.min(200, Math.max(1, Number(query.get('count') ?? 50) || 50));
      return json(res, 200, groupSessions(withResolution(await services.journal.recent({ count: WINDOW }), services.explainAddress), count));
    }
    if (method === 'GET' && path === '/api/decisions') {
      // "Why was this deferred?": one session's or one queued message's decisions, oldest first.
      const session = query.get('session');
      const queueId = query.get('queueId');
      // Each with its recipient's address resolution (class, rewrites, next hop) beside the trace.
      const explain = (entries: readonly JournalEntry[]) => json(res, 200, withResolution(entries, services.explainAddress));
      if (session) return explain(await services.journal.bySession(session.slice(0, 128)));
      if (queueId) return explain(await services.journal.byQueueId(queueId.slice(0, 128)));
      const count = Math.min(200, Math.max(1, Number(query.get('count') ?? 50) || 50));
      return explain(await services.journal.recent({ count }));
    }
    if (method === 'GET' && path === '/api/greylist/stuck') {
      if (!services.greylist) return json(res, 200, { enabled: false, stuck: [] });
      const now = Math.floor(Date.now() / 1000);
      const rows = await services.greylist.listStuck(100);
      return json(res, 200, {
        enabled: true,
        stuck: rows.map((t) => ({ ...t, network: t.client ? services.networkOf(t.client) : undefined, sinceLast: now - t.lastSeen, meanGap: t.attempts > 1 ? (t.lastSeen - t.firstSeen) / (t.attempts - 1) : undefined })),
      });
    }
    if (method === 'GET' && path === '/api/ratelimits') {
      // who the shared rate limits refuse now (every MX counts in the same Redis)
      return json(res, 200, { active: [...services.rateLimits.active], limited: await services.rateLimits.list({ limit: 100 }), now: Math.floor(Date.now() / 1000) });
    }
    if (method === 'POST' && path === '/api/greylist/whitelist') {
      if (!services.greylist) throw new HttpError(409, 'greylisting is not in the policy');
      const cidr = typeof input.cidr === 'string' ? input.cidr.trim() : '';
      if (!parseCidr(cidr) || !cidr.includes('/')) throw new HttpError(400, 'expected a network such as 192.0.2.0/24');
      const days = typeof input.days === 'number' && input.days > 0 && input.days <= 3650 ? input.days : 365;
      await services.greylist.whitelistClient(cidr, Math.round(days * 86400));
      audit('greylist-whitelist', 'ok', { cidr, days });
      return json(res, 200, { whitelisted: cidr, days });
    }
    if (method === 'GET' && path === '/api/queue') return json(res, 200, await services.queue.list());
    if (method === 'POST' && path === '/api/queue') {
      const action = input.action;
      const ids = Array.isArray(input.ids) ? input.ids.filter((i): i is string => typeof i === 'string') : [];
      if (ids.some((i) => !QUEUE_ID.test(i)) || ids.length > 1000) throw new HttpError(400, 'bad queue id');
      if (action === 'flush') {
        const n = await services.queue.flush(ids.length ? ids : undefined);
        audit('queue-flush', 'ok', { ids, flushed: n });
        return json(res, 200, { flushed: n });
      }
      if (action !== 'hold' && action !== 'release' && action !== 'delete') throw new HttpError(400, 'action must be flush, hold, release or delete');
      if (ids.length === 0) throw new HttpError(400, 'no queue ids');
      const done = await services.queue[action](ids);
      audit(`queue-${action}`, done.length === ids.length ? 'ok' : 'partial', { ids, done });
      return json(res, 200, { action, done, missing: ids.filter((i) => !done.includes(i)) });
    }
    if (method === 'GET' && path === '/api/zones') return json(res, 200, services.dnslist?.health() ?? []);
    if (path.startsWith('/api/quarantine')) {
      try {
        const a = await quarantineApi(services.quarantine, { method, path, query, input, user: s.user }, audit);
        if (a) return json(res, a.status, a.body);
      } catch (e) {
        if (e instanceof QuarantineInputError) throw new HttpError(400, e.message);
        throw e;
      }
    }
    if (method === 'POST' && path === '/api/learn') return learn(res, input, audit);
    throw new HttpError(404, 'no such endpoint');
  }

  /** POST /api/learn {as: spam|ham, message: base64}: teach spamd's Bayes; what is not a message is 422. */
  async function learn(res: ServerResponse, input: Record<string, unknown>, audit: (action: string, result: string, detail: Record<string, unknown>) => void) {
    if (!services.learn) throw new HttpError(409, 'spamd is not enabled (spamd.enabled: false)');
    const as = input.as;
    if (as !== 'spam' && as !== 'ham') throw new HttpError(400, 'as must be spam or ham');
    const b64 = typeof input.message === 'string' ? input.message.replace(/\s+/g, '') : '';
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new HttpError(400, 'message must be base64');
    const message = Buffer.from(b64, 'base64');
    const check = checkMessage(message, services.learn.maxBytes);
    if (!check.ok) {
      audit('learn', 'refused', { as, bytes: message.length, reason: check.reason });
      return json(res, 422, { error: `not a mail message (${check.reason}): ${check.detail}`, reason: check.reason });
    }
    try {
      const { outcome } = await services.learn.run(message, as);
      audit('learn', outcome, { as, bytes: message.length });
      return json(res, 200, { as, outcome });
    } catch (e) {
      if (!isSpamdError(e)) throw e;
      audit('learn', 'failed', { as, bytes: message.length, code: e.code });
      return json(res, 502, { error: e.message, code: e.code });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const staticFile = STATIC[path];
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
