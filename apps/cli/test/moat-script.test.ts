// `npm run moat -- ARGS` (scripts/moat.mjs): the docker exec it builds and what it says when the stack is not
// running. Docker itself is replaced by fakes, except one run against an engine socket that does not exist.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_PATH, execArgs, parseMoatArgs, runInStack } from '../../../scripts/moat.mjs';
import type { ProjectContainer } from '../../../scripts/stack.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const mx = (over: Partial<ProjectContainer> = {}): ProjectContainer => ({ service: 'mx', state: 'running', status: 'Up 5 minutes (healthy)', ports: '', name: 'moat-mx-1', health: 'healthy', ...over });

describe('parseMoatArgs', () => {
  it("takes its own options before the command and hands the rest to the CLI untouched", () => {
    expect(parseMoatArgs(['queue', 'list', '--json'])).toEqual({ project: 'moat', service: 'mx', test: false, cliArgs: ['queue', 'list', '--json'] });
    expect(parseMoatArgs(['--test', 'zones'])).toMatchObject({ project: 'moat-test', cliArgs: ['zones'] });
    expect(parseMoatArgs(['--project', 'moat-cluster', '--service=mx1', 'greylist', 'stuck', '--test'])).toMatchObject({
      project: 'moat-cluster',
      service: 'mx1',
      test: false,
      cliArgs: ['greylist', 'stuck', '--test'],
    });
    expect(parseMoatArgs(['--help']).cliArgs).toEqual(['--help']);
    expect(parseMoatArgs(['--', '--project', 'x']).cliArgs).toEqual(['--project', 'x']);
    expect(() => parseMoatArgs(['--project'])).toThrow('option --project needs a value');
  });
});

describe('execArgs', () => {
  it('runs the bundled CLI with the stack config, stdin open, a TTY only when asked', () => {
    expect(execArgs({ container: 'moat-mx-1', cliArgs: ['explain', '--client', '192.0.2.1'] })).toEqual([
      'exec', '-i', '-e', 'MOAT_CONFIG=/etc/moat/conf/moat.yaml', 'moat-mx-1', 'node', '/usr/local/lib/moat/cli/main.js', 'explain', '--client', '192.0.2.1',
    ]);
    expect(execArgs({ container: 'c', cliArgs: [], tty: true }).slice(0, 3)).toEqual(['exec', '-i', '-t']);
    expect(CLI_PATH).toBe('/usr/local/lib/moat/cli/main.js');
  });
});

describe('runInStack', () => {
  // runInStack points process.env at the engine it found (as the other scripts do): undo it per test.
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    saved = { ...process.env };
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  const run = async (argv: string[], deps: Parameters<typeof runInStack>[1] = {}) => {
    let err = '';
    const calls: string[][] = [];
    const code = await runInStack(argv, {
      findEngine: async () => 'unix:///fake.sock',
      containers: async () => [mx()],
      has: async () => true,
      exec: async (args) => {
        calls.push(args);
        return 3;
      },
      err: (s) => (err += s),
      ...deps,
    });
    return { code, err, calls };
  };

  it('execs in the running mx container and returns the CLI exit code', async () => {
    const r = await run(['queue', 'list']);
    expect(r).toMatchObject({ code: 3, err: '' });
    expect(r.calls).toEqual([execArgs({ container: 'moat-mx-1', cliArgs: ['queue', 'list'], tty: Boolean(process.stdin.isTTY && process.stdout.isTTY) })]);
  });

  it('says the stack is not running (exit 1) when no engine answers, or no mx container runs', async () => {
    const noEngine = await run(['queue', 'list'], { findEngine: async () => null });
    expect(noEngine.code).toBe(1);
    expect(noEngine.err).toContain('moat: the stack is not running here: no Docker engine answers at ');
    expect(noEngine.err).toContain('Start it with: npm run stack -- up');
    expect(noEngine.calls).toEqual([]);

    const none = await run(['queue', 'list'], { containers: async () => [] });
    expect(none).toMatchObject({ code: 1, calls: [] });
    expect(none.err).toBe('moat: the stack is not running: compose project moat has no running mx container.\n  Start it with: npm run stack -- up\n');

    const exited = await run(['--test', 'zones'], { containers: async () => [mx({ state: 'exited', name: 'moat-test-mx-1' }), mx({ service: 'redis' })] });
    expect(exited.code).toBe(1);
    expect(exited.err).toBe('moat: the stack is not running: compose project moat-test has no running mx container (found: mx exited, redis running).\n  Start it with: npm run stack -- up --test\n');

    const old = await run(['zones'], { has: async () => false });
    expect(old.code).toBe(1);
    expect(old.err).toContain(`moat-mx-1 has no moat CLI at ${CLI_PATH}`);

    const cluster = await run(['--project', 'moat-cluster', '--service', 'mx2', 'zones'], { containers: async () => [] });
    expect(cluster.err).toContain('compose project moat-cluster has no running mx2 container.\n  Start it with: docker compose -p moat-cluster');

    const bad = await run(['--service']);
    expect(bad.code).toBe(2);
  });

  it('npm run moat: a Docker engine that does not answer is a clear message and exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-script-'));
    const host = `unix://${join(dir, 'none.sock')}`;
    const r = spawnSync('npm', ['run', '--silent', 'moat', '--', 'queue', 'list'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: host, MOAT_DOCKER_DIR: dir },
      timeout: 120_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`moat: the stack is not running here: no Docker engine answers at ${host} (DOCKER_HOST).`);
  }, 180_000);
});
