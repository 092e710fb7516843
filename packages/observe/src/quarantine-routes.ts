// The quarantine's admin routes on a service's metrics listener: GET /-/quarantine (list), GET
// /-/quarantine/<id> (show), POST /-/quarantine/<id>/release|delete and POST /-/quarantine/expire.
// Trusts only requests that carry the node's admin token (quarantine.admin_token, as a bearer token) and the
// x-moat-quarantine header: the listener also serves /metrics to anyone on the stack's network, and held mail
// is private. Without a token configured the routes are off. The body is never read: who acts comes in
// x-moat-by, learning in ?learn=1. Ids are checked by the handler.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The header every /-/quarantine request must carry (`moat quarantine` and the console send it). */
export const QUARANTINE_HEADER = 'x-moat-quarantine';
/** Who acts (URI-encoded): the CLI's user, the console's login. */
export const BY_HEADER = 'x-moat-by';

export interface QuarantineRoutes {
  /** The admin token callers must present (`authorization: Bearer TOKEN`); undefined: the routes are off. */
  token: string | undefined;
  list(): Promise<unknown>;
  show(id: string): Promise<unknown>;
  act(action: 'release' | 'delete', id: string, opts: { by: string; learn: boolean }): Promise<unknown>;
  expire(by: string): Promise<unknown>;
}

/** HTTP status of a library error by its code (@moat/queue's registry); others are 500. */
const STATUS: Record<string, number> = { EQUEUE_NOTFOUND: 404, EQUEUE_INVAL: 400, EQUEUE_CORRUPT: 409, EQUEUE_BUSY: 409 };

async function dispatch(routes: QuarantineRoutes, method: string, url: URL, id: string | undefined, action: string | undefined, by: string): Promise<[number, unknown]> {
  if (method === 'GET' && !id) return [200, await routes.list()];
  if (method === 'GET' && id && !action && id !== 'expire') return [200, await routes.show(id)];
  if (method !== 'POST' || !(action || id === 'expire')) return [405, { error: `${method} ${url.pathname}: not a quarantine action` }];
  if (!by.trim()) return [400, { error: `POST /-/quarantine needs ${BY_HEADER}: who acts` }];
  if (id === 'expire' && !action) return [200, await routes.expire(by)];
  return [200, await routes.act(action as 'release' | 'delete', id!, { by, learn: url.searchParams.get('learn') === '1' })];
}

/** `Bearer TOKEN` naming `token`, compared in constant time. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (\S+)$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Answers the request when it is a quarantine route (true), else leaves it alone (false). */
export async function quarantineRoute(routes: QuarantineRoutes, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://metrics.invalid');
  const m = /^\/-\/quarantine(?:\/([^/]+))?(?:\/(release|delete))?\/?$/.exec(url.pathname);
  if (!m) return false;
  const reply = (status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(`${JSON.stringify(body)}\n`);
  };
  if (!routes.token) {
    reply(403, { error: "this node's quarantine admin API is off: set quarantine.admin_token (MOAT_QUARANTINE_TOKEN_FILE) here and where the console and moat quarantine run" });
    return true;
  }
  // also for reading: held mail is private; the header keeps a browser page from even trying cross-site
  if (req.headers[QUARANTINE_HEADER] !== '1') {
    reply(403, { error: `/-/quarantine needs the header ${QUARANTINE_HEADER}: 1 (moat quarantine sends it)` });
    return true;
  }
  if (!tokenMatches(req.headers.authorization, routes.token)) {
    res.setHeader('www-authenticate', 'Bearer realm="moat quarantine"');
    reply(401, { error: '/-/quarantine needs this node\'s admin token (quarantine.admin_token) as a bearer token' });
    return true;
  }
  const [, id, action] = m;
  let by = '';
  try {
    by = decodeURIComponent(String(req.headers[BY_HEADER] ?? ''));
  } catch {
    by = '';
  }
  try {
    const [status, body] = await dispatch(routes, req.method ?? 'GET', url, id, action, by);
    reply(status, body);
  } catch (e) {
    const err = e as Error & { code?: string };
    reply(STATUS[err.code ?? ''] ?? 500, { error: err.message ?? String(e), code: err.code });
  }
  return true;
}
