// A tiny HTTP endpoint for Prometheus: GET /metrics and GET /healthz, nothing else.
import { createServer, type Server } from 'node:http';
import type { Registry } from './metrics.ts';

export function serveMetrics(
  registry: Registry,
  opts: { host: string; port: number; health?: () => Promise<boolean> | boolean },
): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    } else if (req.method === 'GET' && req.url === '/healthz') {
      const ok = opts.health ? await opts.health() : true;
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok\n' : 'unhealthy\n');
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
