import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Counter, createLogger, createRegistry, serveMetrics } from './index.ts';

function sink() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes one JSON line with the component bound and secrets redacted', () => {
    const { lines, destination } = sink();
    const log = createLogger('mx', { level: 'info', destination });
    log.info({ auth: { user: 'alice', password: 'hunter2' }, password: 'x' }, 'auth');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line.component).toBe('mx');
    expect(line.msg).toBe('auth');
    expect(line.password).toBe('[Redacted]');
    expect(line.auth.password).toBe('[Redacted]');
    expect(line.auth.user).toBe('alice');
  });
});

describe('serveMetrics', () => {
  it('serves the registry on /metrics, health on /healthz and nothing else', async () => {
    const registry = createRegistry();
    const c = new Counter({ name: 'moat_test_total', help: 'test', registers: [registry] });
    c.inc(3);
    let healthy = true;
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0, health: () => healthy });
    try {
      const addr = server.address();
      const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('moat_test_total 3');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      healthy = false;
      expect((await fetch(`${base}/healthz`)).status).toBe(503);
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
