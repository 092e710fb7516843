// A tiny HTTP endpoint for Prometheus: GET /metrics and GET /healthz, and (when the service has them) /-/reload and /-/quarantine.
// Trusts nothing in a request: none of its content is read; a reload re-reads the service's own config file.
import { createServer, type Server } from 'node:http';
import { type QuarantineRoutes, quarantineRoute } from './quarantine-routes.ts';


/** The header POST /-/reload must carry (`moat reload` sends it). */
export const RELOAD_HEADER = 'x-moat-reload';
export interface ServeMetricsOptions {
  host: string;
  port: number;
  /** true: 200 `ok`; false or a reason: 503 `unhealthy[: reason]`. A throw counts as unhealthy. */
  health?: () => Promise<boolean | string> | boolean | string;
  /** The /metrics body (default: the registry's); a throw answers 503 for that scrape, never a crash. */
  metrics?: () => Promise<string>;
  /**
   * POST /-/reload (Prometheus's lifecycle path): re-read the config and answer the report as JSON, 200 when
   * applied, 422 when refused; GET /-/reload: the last report (404 before the first). The request's body is
   * never read, so a caller can only make the service re-read what is already on its disk.
   */
  reload?: { run(trigger: string): Promise<{ outcome: string } | { outcome: string }[]>; last(): unknown } | undefined;
  /** /-/quarantine: the node's held messages and the operator's actions on them (quarantine-routes.ts). */
  quarantine?: QuarantineRoutes | undefined;
}

export function serveMetrics(registry: { contentType: string; metrics(): Promise<string> }, opts: ServeMetricsOptions): Promise<Server> {
  const body = opts.metrics ?? (() => registry.metrics());
  const server = createServer(async (req, res) => {
    if (opts.quarantine && req.url?.startsWith('/-/quarantine') && (await quarantineRoute(opts.quarantine, req, res))) return;
    if (req.method === 'GET' && req.url === '/metrics') {
      try {
        const text = await body();
        res.setHeader('content-type', registry.contentType);
        res.end(text);
      } catch (e) {
        res.statusCode = 503;
        res.end(`metrics unavailable: ${(e as Error)?.message ?? String(e)}\n`);
      }
    } else if (req.method === 'GET' && req.url === '/healthz') {
      let verdict: boolean | string;
      try {
        verdict = opts.health ? await opts.health() : true;
      } catch (e) {
        verdict = `health check failed: ${(e as Error)?.message ?? String(e)}`;
      }
      res.statusCode = verdict === true ? 200 : 503;
      res.end(verdict === true ? 'ok\n' : verdict === false ? 'unhealthy\n' : `unhealthy: ${verdict}\n`);
    } else if (opts.reload && req.url === '/-/reload' && (req.method === 'POST' || req.method === 'GET')) {
      res.setHeader('content-type', 'application/json');
      try {
        if (req.method === 'GET') {
          const last = opts.reload.last();
          res.statusCode = last === undefined ? 404 : 200;
          res.end(`${JSON.stringify(last ?? { error: 'no reload yet' })}\n`);
          return;
        }
        // a header of our own: a browser cannot send it cross-site without a preflight this server never
        // answers, so a web page open on the admin's machine cannot make a service reload
        if (req.headers[RELOAD_HEADER] !== '1') {
          res.statusCode = 403;
          res.end(`${JSON.stringify({ outcome: 'refused', error: `POST /-/reload needs the header ${RELOAD_HEADER}: 1 (moat reload sends it)` })}\n`);
          return;
        }
        const report = await opts.reload.run('http');
        const refused = (Array.isArray(report) ? report : [report]).some((r) => r.outcome !== 'applied');
        res.statusCode = refused ? 422 : 200;
        res.end(`${JSON.stringify(report)}\n`);
      } catch (e) {
        res.statusCode = 500;
        res.end(`${JSON.stringify({ outcome: 'refused', error: (e as Error)?.message ?? String(e) })}\n`);
      }
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
