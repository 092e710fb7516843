// buildEngine serves check_client_access from the admin's table files and picks up edits (reloadMaps,
// the SIGHUP path) without a restart; a broken edit keeps the last good table. No daemons needed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@moat/config';
import { createLogger, createRegistry } from '@moat/observe';
import { createMemoryDnsList, createMemoryGreylist, type Facts } from '@moat/policy';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEngine } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'moat-runtime-maps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const facts: Facts = { stage: 'rcpt', clientAddress: '198.51.100.9', helo: 'mail.sender.example', sender: 'a@sender.example', recipient: 'bob@example.org', tls: false };

describe('buildEngine with file lookup tables', () => {
  it('answers from a texthash table, reloads it on reloadMaps, keeps the last good table on a broken edit', async () => {
    const file = join(dir, 'access');
    writeFileSync(file, '# Postfix access table\n198.51.100 REJECT listed network\n');
    const config = parseConfig(
      'version: 1\npolicy:\n  hostname: mx.example.org\n  recipient_restrictions: check_client_access texthash:access, permit\nrecipients:\n  domains: [example.org]\n  users: [bob@example.org]\n',
      { file: join(dir, 'moat.yaml'), env: {} },
    );
    const registry = createRegistry();
    const built = await buildEngine(config, {
      registry,
      logger: createLogger('maps-wiring-test', { level: 'silent' }),
      ports: { dnslist: createMemoryDnsList({}), greylist: createMemoryGreylist({ clock: { now: () => 0 } }) },
    });
    try {
      expect((await built.engine.evaluate(facts)).action).toBe('reject');
      writeFileSync(file, '198.51.100 OK\n');
      expect(built.reloadMaps().map((r) => r.result)).toEqual(['reloaded']);
      expect((await built.engine.evaluate(facts)).action).toBe('permit');
      writeFileSync(file, '198.51.100\n');
      const [broken] = built.reloadMaps();
      expect(broken?.result).toBe('error');
      expect(broken?.error?.line).toBe(1);
      expect((await built.engine.evaluate(facts)).action).toBe('permit');
      const metrics = await registry.getSingleMetricAsString('moat_maps_reloads_total');
      expect(metrics).toContain('moat_maps_reloads_total{table="texthash:access",result="error"} 1');
      expect(metrics).toContain('moat_maps_reloads_total{table="texthash:access",result="ok"} 1');
      // the SIGHUP path (what the apps get from the signal)
      writeFileSync(file, '198.51.100 REJECT again\n');
      process.emit('SIGHUP', 'SIGHUP');
      expect((await built.engine.evaluate(facts)).action).toBe('reject');
    } finally {
      await built.close();
    }
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });
});
