// A tiny HTTP endpoint for Prometheus: GET /metrics and GET /healthz, nothing else.
import { createServer, type Server } from 'node:http';

export interface ServeMetricsOptions {
  host: string;
  port: number;
  /** true: 200 `ok`; false or a reason: 503 `unhealthy[: reason]`. A throw counts as unhealthy. */
  health?: () => Promise<boolean | string> | boolean | string;
  /** The /metrics body (default: the registry's); a throw answers 503 for that scrape, never a crash. */
  metrics?: () => Promise<string>;
}

export function serveMetrics(registry: { contentType: string; metrics(): Promise<string> }, opts: ServeMetricsOptions): Promise<Server> {
  const body = opts.metrics ?? (() => registry.metrics());
  const server = createServer(async (req, res) => {
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
