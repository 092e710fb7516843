// The documented command's edges: usage, config errors (EX_CONFIG), SIGTERM with connections open.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '@moat/testkit';
import { describe, expect, it } from 'vitest';
import { startPolicyd, startStack } from './helpers.ts';

const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const run = (args: string[]) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = execFile(process.execPath, [mainTs, ...args], { timeout: 20_000 }, (_e, stdout, stderr) =>
      resolve({ code: c.exitCode, out: `${stdout}${stderr}` }),
    );
  });

describe('moat-policyd command', () => {
  it('prints its usage and exits 64 without --config', async () => {
    const r = await run([]);
    expect(r.code).toBe(64);
    expect(r.out).toMatch(/usage: moat-policyd --config FILE/);
  });

  it('names the file and the problem and exits 78 on a bad config', async () => {
    const dir = await tmpDir('policyd-main');
    const file = join(dir.path, 'moat.yaml');
    await writeFile(file, 'version: 1\npolicy:\n  hostname: mx.x.test\n  recipient_restrictions: check_client_access cidr:/nonexistent/map\nrecipients:\n  domains: [x.test]\n');
    const r = await run(['--config', file]);
    expect(r.code).toBe(78);
    expect(r.out).toMatch(/\/nonexistent\/map.*readable cidr table/);
    await writeFile(file, 'version: 1\npolicyd:\n  stages: [sometimes]\n');
    const r2 = await run(['--config', file]);
    expect(r2.code).toBe(78);
    expect(r2.out).toMatch(/policyd\.stages/);
    await dir.remove();
  });

  it('stops promptly and cleanly on SIGTERM with a Postfix-style connection open, its decision log flushed', async () => {
    const stack = await startStack();
    try {
      const p = await startPolicyd(stack.configFile, undefined, 'info');
      const s = connect(p.port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      s.write('request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.51.100.99\nsender=a@b.example\nrecipient=c@example.org\n\n');
      await new Promise((r) => s.once('data', r));
      const closed = new Promise((r) => s.once('close', r));
      s.on('end', () => s.end());
      const t0 = Date.now();
      await p.stop();
      await closed;
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(p.daemon.process.exitCode).toBe(0);
      const lines = p.daemon
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === 'decision')).toMatchObject({
        action: 'defer',
        client: '198.51.100.99',
        sender: 'a@b.example',
        recipient: 'c@example.org',
        restriction: 'check_policy_service inet:127.0.0.1:10023',
      });
      expect(lines.at(-1)).toMatchObject({ msg: 'policyd stopping' });
    } finally {
      await stack.stop();
    }
  });
});
