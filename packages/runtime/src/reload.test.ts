import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import { describe, expect, it } from 'vitest';
import { createReloader, restartOnlyChanges } from './reload.ts';

const yaml = (restrictions: string, listen = '127.0.0.1:9465') =>
  `version: 1\npolicy:\n  hostname: mx.example.org\n  recipient_restrictions: ${restrictions}\nrecipients:\n  domains: [example.org]\nmetrics:\n  listen: ${listen}\n`;

function setup() {
  const file = join(mkdtempSync(join(tmpdir(), 'moat-reload-')), 'moat.yaml');
  writeFileSync(file, yaml('permit'));
  const config = loadConfig(file, { env: {} });
  const retired: number[] = [];
  let built = 1;
  const registry = createRegistry();
  const r = createReloader({
    service: 'test',
    file,
    env: {},
    config,
    value: { n: 1 },
    build: async (c) => {
      if (c.policy.recipient_restrictions.some((x) => x.type === 'reject')) throw new Error('refused by build');
      return { n: ++built };
    },
    retire: (v) => {
      retired.push(v.n);
    },
    restartOnly: ['metrics.listen'],
    logger: createLogger('t', { level: 'silent' }),
    registry,
  });
  return { file, r, retired, registry };
}

describe('createReloader', () => {
  it('hands new sessions the new generation and retires the old one when its last session ends', async () => {
    const { file, r, retired } = setup();
    const a = r.acquire();
    writeFileSync(file, yaml('permit_mynetworks, permit'));
    const rep = await r.reload('test');
    expect(rep).toMatchObject({ outcome: 'applied', generation: 2, draining: 1, needsRestart: [] });
    expect(a.value.n).toBe(1);
    expect(r.acquire().value.n).toBe(2);
    expect(retired).toEqual([]);
    a.release();
    a.release(); // idempotent
    await new Promise((ok) => setImmediate(ok));
    expect(retired).toEqual([1]);
  });

  it('refuses an invalid config or a failed build: the generation stays, the error is reported and counted', async () => {
    const { file, r, registry } = setup();
    writeFileSync(file, yaml('no_such_thing'));
    const bad = await r.reload('test');
    expect(bad).toMatchObject({ outcome: 'refused', generation: 1 });
    expect(bad.error).toMatch(/no_such_thing/);
    writeFileSync(file, yaml('reject'));
    expect((await r.reload('test')).error).toBe('refused by build');
    expect(r.current().n).toBe(1);
    expect(await registry.getSingleMetricAsString('moat_reload_total')).toMatch(/outcome="refused"} 2/);
    expect(r.last()?.outcome).toBe('refused');
  });

  it('joins concurrent reloads and reports restart-only changes against the config it started with', async () => {
    const { file, r } = setup();
    writeFileSync(file, yaml('permit', '127.0.0.1:9999'));
    const [x, y] = await Promise.all([r.reload('a'), r.reload('b')]);
    expect(x).toBe(y);
    expect(x.needsRestart).toEqual(['metrics.listen']);
  });

  it('compares dotted paths as values', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'moat-reload-')), 'moat.yaml');
    writeFileSync(file, yaml('permit'));
    const a = loadConfig(file, { env: {} });
    writeFileSync(file, yaml('permit', '127.0.0.1:1'));
    const b = loadConfig(file, { env: {} });
    expect(restartOnlyChanges(a, b, ['metrics.listen', 'metrics.enabled', 'no.such.path'])).toEqual(['metrics.listen']);
  });
});

describe('createReloader close()', () => {
  it('waits for a reload under way and releases what it built: nothing outlives close()', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'moat-reload-')), 'moat.yaml');
    writeFileSync(file, yaml('permit'));
    const retired: number[] = [];
    let finishBuild: () => void = () => {};
    const r = createReloader({
      service: 'test',
      file,
      env: {},
      config: loadConfig(file, { env: {} }),
      value: { n: 1 },
      build: () => new Promise<{ n: number }>((ok) => (finishBuild = () => ok({ n: 2 }))),
      retire: (v) => {
        retired.push(v.n);
      },
      restartOnly: [],
      logger: createLogger('t', { level: 'silent' }),
      registry: createRegistry(),
    });
    const reloading = r.reload('test');
    await new Promise((ok) => setTimeout(ok, 20));
    const closing = r.close();
    finishBuild();
    await closing;
    expect((await reloading).outcome).toBe('refused');
    expect(retired.sort()).toEqual([1, 2]);
    expect(r.current().n).toBe(1);
  });
});
