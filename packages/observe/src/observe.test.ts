import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Counter, createLogger, createRegistry, infoLine, serveMetrics } from './index.ts';

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

describe('infoLine', () => {
  const fields = {
    event: 'decision',
    action: 'defer',
    client: '192.0.2.1',
    sender: 'a"b\\c\u0001ü@example.com',
    recipient: 'r@example.org\n{"forged":1}',
    greylisted: true,
    skipped: undefined,
    ms: 0.125,
    bad: Number.NaN,
  };

  it('writes the line pino would write, field for field and in order', () => {
    const a = sink();
    const b = sink();
    const la = createLogger('policyd', { level: 'info', destination: a.destination }).child({ conn: 'k1', peer: '127.0.0.1' });
    const lb = createLogger('policyd', { level: 'info', destination: b.destination }).child({ conn: 'k1', peer: '127.0.0.1' });
    la.info(fields, 'decision');
    infoLine(lb, fields, 'decision');
    expect(b.lines).toHaveLength(1);
    const pa = JSON.parse(a.lines[0]!);
    const pb = JSON.parse(b.lines[0]!);
    expect(Object.keys(pb)).toEqual(Object.keys(pa));
    expect({ ...pb, time: 0 }).toEqual({ ...pa, time: 0 });
    expect(pb.recipient).toBe(fields.recipient); // a newline in a value stays inside its string
  });

  it('stamps ISO times that follow the clock', async () => {
    const a = sink();
    const log = createLogger('policyd', { level: 'info', destination: a.destination });
    const t0 = Date.now();
    infoLine(log, fields, 'decision');
    await new Promise((r) => setTimeout(r, 5));
    log.info('later');
    const [first, second] = a.lines.map((l) => Date.parse(JSON.parse(l).time));
    expect(first).toBeGreaterThanOrEqual(t0);
    expect(second).toBeGreaterThan(first!);
  });

  it('writes nothing below the logger level', () => {
    const a = sink();
    infoLine(createLogger('policyd', { level: 'warn', destination: a.destination }), fields, 'decision');
    expect(a.lines).toHaveLength(0);
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

  it('answers 503 with the reason when the metrics body or the health check fails, and keeps serving', async () => {
    const registry = createRegistry();
    let fail = true;
    let health: boolean | string = '1 of 2 workers listening';
    const server = await serveMetrics(registry, {
      host: '127.0.0.1',
      port: 0,
      metrics: async () => {
        if (fail) throw new Error('worker 2 did not answer');
        return 'moat_summed 1\n';
      },
      health: () => health,
    });
    try {
      const addr = server.address();
      const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const bad = await fetch(`${base}/metrics`);
      expect(bad.status).toBe(503);
      expect(await bad.text()).toContain('worker 2 did not answer');
      const sick = await fetch(`${base}/healthz`);
      expect(sick.status).toBe(503);
      expect(await sick.text()).toBe('unhealthy: 1 of 2 workers listening\n');
      fail = false;
      health = true;
      expect(await (await fetch(`${base}/metrics`)).text()).toBe('moat_summed 1\n');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
