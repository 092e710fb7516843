// `moat-policyd --workers 2` as the admin runs it: a primary and two workers on one port, against a real Redis.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, processAlive, type RedisServer, startRedis, tmpDir } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));
type Line = Record<string, unknown>;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One Postfix-style connection with one RCPT request on it; the socket stays open, as Postfix keeps it. */
function ask(port: number, n: number): Promise<{ reply: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply on connection ${n}`));
    }, 10_000);
    socket.on('error', reject);
    socket.on('data', (b) => {
      got += b.toString();
      if (got.endsWith('\n\n')) {
        clearTimeout(timer);
        resolve({ reply: got.trim(), socket });
      }
    });
    socket.write(
      `request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.51.100.${n}\nsender=s${n}@sender.example\nrecipient=r${n}@example.org\n\n`,
    );
  });
}


describe('moat-policyd --workers', () => {
  let redis: RedisServer;
  let dir: Awaited<ReturnType<typeof tmpDir>>;
  let configFile: string;

  beforeAll(async () => {
    redis = await startRedis();
    dir = await tmpDir('policyd-workers');
    configFile = join(dir.path, 'moat.yaml');
    await writeFile(
      configFile,
      `version: 1
policy:
  hostname: mx.moat.test
  recipient_restrictions: check_policy_service inet:127.0.0.1:10023
recipients:
  domains: [example.org]
greylist:
  redis: { url: "${redis.url}" }
  delay: 2s
  auto_whitelist_count: 0
policyd:
  max_connections: 19
`,
    );
  });
  afterAll(async () => {
    await redis?.stop();
    await dir?.remove();
  });

  it('refuses a --workers value that is not a count or auto, with exit 64 and the usage', async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = execFile(process.execPath, [mainTs, '--config', configFile, '--workers', 'many'], { timeout: 20_000 }, (_e, o, e) =>
        resolve({ code: c.exitCode, out: `${o}${e}` }),
      );
    });
    expect(r.code).toBe(64);
    expect(r.out).toMatch(/--workers: expected a number of processes.*"many"/);
    expect(r.out).toMatch(/--workers N\|auto/);
  });

  it('spreads connections over two workers, sums their metrics, replaces a killed one and stops cleanly', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const base = `http://127.0.0.1:${metricsPort}`;
    const child: ChildProcess = spawn(
      process.execPath,
      [mainTs, '--config', configFile, '--listen', `127.0.0.1:${port}`, '--metrics', `127.0.0.1:${metricsPort}`, '--workers', '2'],
      { env: { ...process.env, MOAT_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = (): Line[] =>
      stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line);
    const msgs = (msg: string) => lines().filter((l) => l.msg === msg);
    const healthy = async () => (await fetch(`${base}/healthz`)).status === 200;
    const sockets: Socket[] = [];
    try {
      await until('both workers listening', healthy);
      await until('both workers logging', () => msgs('policyd listening').length === 2, 5000); // logs go out every 200 ms
      // max_connections 19 is the service's: each worker takes ceil(19 / 2).
      expect(msgs('policyd listening').map((l) => l.maxConnections)).toEqual([10, 10]);

      // Eight Postfix connections, one request each: round-robin hands them to both workers.
      const first = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(port, i + 1)));
      sockets.push(...first.map((a) => a.socket));
      for (const a of first) expect(a.reply).toMatch(/^action=DEFER_IF_PERMIT 4\.7\.1 Greylisted/);
      await until('eight decision lines', () => msgs('decision').length === 8, 5000);
      const answeredBy = new Set(msgs('decision').map((l) => l.worker));
      expect([...answeredBy].sort()).toEqual([1, 2]);

      // One scrape of the primary sums the workers' counters.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const replies = [...metrics.matchAll(/^moat_policyd_replies_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      expect(replies).toBe(8);
      expect(metrics).toMatch(/^moat_policyd_workers 2$/m);

      // A worker killed outright is replaced, and the service keeps answering.
      const started = msgs('policyd worker started') as { worker: number; pid: number }[];
      expect(started.map((l) => l.worker)).toEqual([1, 2]);
      process.kill(started[0]!.pid, 'SIGKILL');
      await until('a third worker listening', () => msgs('policyd worker listening').some((l) => l.worker === 3));
      await until('healthy again', healthy);
      expect(msgs('policyd worker died')[0]).toMatchObject({ worker: 1, signal: 'SIGKILL' });
      const again = await Promise.all(Array.from({ length: 4 }, (_, i) => ask(port, 20 + i)));
      sockets.push(...again.map((a) => a.socket));
      for (const a of again) expect(a.reply).toMatch(/^action=DEFER_IF_PERMIT/);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^moat_policyd_worker_restarts_total 1$/m);

      // SIGTERM to the primary: workers close gracefully, the primary exits 0, nothing is left running.
      for (const s of sockets) s.destroy();
      const pids = (msgs('policyd worker started') as { pid: number }[]).map((l) => l.pid);
      const t0 = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(8000);
      for (const pid of pids) expect(processAlive(pid), `worker ${pid}`).toBe(false);
      expect(msgs('policyd worker stopped').map((l) => l.worker).sort()).toEqual([2, 3]);
      // Every line on the shared stdout is whole (lines() parsed each one).
      expect(lines().length).toBeGreaterThan(15);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- stdout\n${stdout.slice(-4000)}\n--- stderr\n${stderr.slice(-2000)}`);
    } finally {
      for (const s of sockets) s.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL'); // its workers exit when the IPC channel closes
        await exited;
      }
    }
  });

  it('gives up with exit 1 and one clear line when workers keep dying (here: the port is taken)', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as { port: number }).port;
    try {
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = execFile(
          process.execPath,
          [mainTs, '--config', configFile, '--listen', `127.0.0.1:${port}`, '--metrics', 'off', '--workers', '2'],
          { timeout: 30_000, env: { ...process.env, MOAT_LOG_LEVEL: 'info' } },
          (_e, o, e) => resolve({ code: c.exitCode, out: `${o}${e}` }),
        );
      });
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/EADDRINUSE/);
      const fatal = r.out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line)
        .find((l) => l.level === 60);
      expect(fatal?.msg).toMatch(/policyd workers keep dying \(2 restarts within 10 s\): giving up, exit 1/);
    } finally {
      squatter.close();
    }
  });
});
