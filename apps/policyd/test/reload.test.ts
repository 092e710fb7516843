// Reload without restart, end to end: the real `main.ts` on loopback (one process, and a primary with two
// workers), its config rewritten, then SIGHUP or POST /-/reload; Postfix-style connections stay open across it.
import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnDaemon, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPolicyd } from './helpers.ts';

const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let dir: Awaited<ReturnType<typeof tmpDir>>;

const config = (o: { blocked?: string; broken?: boolean; workers?: number; maxConnections?: number } = {}) => `version: 1
policy:
  hostname: mx.moat.test
  recipient_restrictions: check_client_access cidr:${dir.path}/clients, ${o.broken ? 'no_such_restriction, ' : ''}permit
recipients:
  domains: [example.org]
dns:
  resolver: 127.0.0.1:9
policyd:
  workers: ${o.workers ?? 1}
  max_connections: ${o.maxConnections ?? 100}
`;

/** A Postfix-style policy connection: one request at a time, each answered by one `action=` line. */
class PolicyConn {
  private buf = '';
  private waiting: Array<(s: string) => void> = [];
  answers = 0;
  private socket: Socket;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n\n'); i !== -1; i = this.buf.indexOf('\n\n')) {
        const reply = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        this.answers++;
        this.waiting.shift()?.(reply);
      }
    });
  }
  static async open(port: number): Promise<PolicyConn> {
    const s = connect(port, '127.0.0.1');
    await new Promise((r, j) => s.once('connect', r).once('error', j));
    return new PolicyConn(s);
  }
  ask(client: string, n = 0): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.write(
        `request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=${client}\nclient_name=unknown\nhelo_name=h.example\nsender=s${n}@sender.example\nrecipient=r@example.org\n\n`,
      );
    });
  }
  close() {
    this.socket.end();
  }
}

const reload = async (metricsPort: number) => {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/-/reload`, { method: 'POST', headers: { 'x-moat-reload': '1' } });
  return { status: r.status, body: (await r.json()) as unknown };
};

beforeAll(async () => {
  dir = await tmpDir('policyd-reload');
  await writeFile(join(dir.path, 'clients'), '203.0.113.0/24 REJECT listed here\n');
});
afterAll(async () => {
  await dir?.remove();
});

describe('policyd reload', () => {
  it('applies a changed list to the next request, refuses a broken config, and answers every request once under reloads', async () => {
    const file = join(dir.path, 'one.yaml');
    await writeFile(file, config());
    const metricsPort = await freePort();
    const p = await startPolicyd(file, undefined, 'info', `127.0.0.1:${metricsPort}`);
    try {
      const c = await PolicyConn.open(p.port);
      expect(await c.ask('198.51.100.7')).toBe('action=DUNNO');
      expect(await c.ask('203.0.113.7')).toBe('action=554 5.7.1 listed here');
      // the map now lists 198.51.100.0/24 too; the open connection's next request gets it
      await writeFile(join(dir.path, 'clients2'), '198.51.100.0/24 REJECT listed now\n');
      await writeFile(file, config().replace(`cidr:${dir.path}/clients`, `cidr:${dir.path}/clients2`));
      const applied = await reload(metricsPort);
      expect(applied.status).toBe(200);
      expect(applied.body).toMatchObject({ service: 'policyd', outcome: 'applied', generation: 2, needsRestart: [] });
      expect(await c.ask('198.51.100.7')).toBe('action=554 5.7.1 listed now');
      expect(await c.ask('203.0.113.7')).toBe('action=DUNNO');

      // broken: refused with the reason, nothing changes, counted
      await writeFile(file, config({ broken: true }));
      const refused = await reload(metricsPort);
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({ outcome: 'refused', generation: 2 });
      expect((refused.body as { error: string }).error).toMatch(/no_such_restriction/);
      expect(await c.ask('198.51.100.7')).toBe('action=554 5.7.1 listed now');
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/^moat_reload_total\{outcome="refused"\} 1$/m);
      expect(metrics).toMatch(/^moat_config_last_reload_successful 0$/m);

      // a restart-only setting is reported, not ignored
      await writeFile(file, config({ maxConnections: 50 }));
      expect((await reload(metricsPort)).body).toMatchObject({ outcome: 'applied', needsRestart: ['policyd.max_connections'] });

      // reloads (SIGHUP and HTTP) under 4 connections asking in a loop: each request answered exactly once
      const conns = await Promise.all([1, 2, 3, 4].map(() => PolicyConn.open(p.port)));
      let stop = false;
      let reloads = 0;
      const reloader = (async () => {
        while (!stop) {
          if (reloads % 2) p.daemon.process.kill('SIGHUP');
          else expect((await reload(metricsPort)).body).toMatchObject({ outcome: 'applied' });
          reloads++;
          await new Promise((ok) => setTimeout(ok, 15));
        }
      })();
      const perConn = 100;
      const answers = await Promise.all(
        conns.map(async (k) => {
          const got: string[] = [];
          for (let i = 0; i < perConn; i++) got.push(await k.ask(i % 2 ? '203.0.113.9' : '192.0.2.9', i));
          return got;
        }),
      );
      stop = true;
      await reloader;
      expect(reloads).toBeGreaterThan(2);
      for (const [i, got] of answers.entries()) {
        expect(got.filter((a, n) => a !== (n % 2 ? 'action=554 5.7.1 listed here' : 'action=DUNNO'))).toEqual([]);
        expect(conns[i]!.answers).toBe(perConn);
      }
      for (const k of [c, ...conns]) k.close();
      // an old generation is released when the last request or connection holding it ends: after the closes
      for (let i = 0; i < 300 && !/"event":"reload-retired"/.test(p.daemon.output()); i++) await new Promise((ok) => setTimeout(ok, 50));
      expect(p.daemon.output()).toMatch(/"event":"reload-retired"/);
    } finally {
      await p.stop();
    }
  }, 120_000);

  it('with workers: POST /-/reload reaches every worker and answers each one’s outcome', async () => {
    const file = join(dir.path, 'workers.yaml');
    await writeFile(file, config({ workers: 2 }));
    const metricsPort = await freePort();
    const port = await freePort();
    const daemon = spawnDaemon(process.execPath, [mainTs, '--config', file, '--listen', `127.0.0.1:${port}`, '--metrics', `127.0.0.1:${metricsPort}`], {
      env: { ...process.env, MOAT_LOG_LEVEL: 'info' },
    });
    const p = { port, daemon, stop: () => daemon.stop(10_000) };
    try {
      // every worker listening (a loaded machine takes its time to start two)
      for (let i = 0; i < 1200; i++) {
        const h = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => undefined);
        if (h?.ok) break;
        await new Promise((ok) => setTimeout(ok, 100));
      }
      await writeFile(file, config({ workers: 2, broken: true }));
      const refused = await reload(metricsPort);
      expect(refused.status).toBe(422);
      expect(refused.body).toHaveLength(2);
      expect((refused.body as Array<{ outcome: string }>).every((r) => r.outcome === 'refused')).toBe(true);
      await writeFile(join(dir.path, 'clients'), '203.0.113.0/24 REJECT listed here\n192.0.2.0/24 REJECT now too\n');
      await writeFile(file, config({ workers: 2 }));
      const applied = await reload(metricsPort);
      expect(applied.status).toBe(200);
      expect((applied.body as Array<{ service: string; outcome: string }>).map((r) => r.outcome)).toEqual(['applied', 'applied']);
      // both workers answer with the new map (round-robin: several connections reach both)
      const conns = await Promise.all([1, 2, 3, 4].map(() => PolicyConn.open(p.port)));
      for (const k of conns) expect(await k.ask('192.0.2.9')).toBe('action=554 5.7.1 now too');
      for (const k of conns) k.close();
    } finally {
      await p.stop();
      await writeFile(join(dir.path, 'clients'), '203.0.113.0/24 REJECT listed here\n');
    }
  }, 180_000);
});
