// compose/spamassassin/entrypoint.sh's site config read by Debian's real SpamAssassin: MOAT_SPAMD_DNS turns the
// network tests on (its file is read after local.cf), and without it they stay off. Loopback only.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startUnbound, tmpDir, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const compose = new URL('../../../compose/spamassassin/', import.meta.url).pathname;
let dir: Awaited<ReturnType<typeof tmpDir>>;
let etc: string;
let unbound: UnboundServer;

/** The entrypoint's file generation only (MOAT_SPAMD_SITE_ONLY), from the image's files, into `name`. */
async function site(name: string, env: Record<string, string>): Promise<string> {
  const out = join(dir.path, name);
  await run('sh', [join(compose, 'entrypoint.sh')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, MOAT_SPAMD_ETC: etc, MOAT_SPAMD_SITE_DIR: out, MOAT_SPAMD_SITE_ONLY: '1' },
  });
  return out;
}

/** SpamAssassin's own account of its DNS settings (--net: --lint alone means local tests only). */
async function dnsDebug(siteDir: string): Promise<string> {
  const { stderr } = await run('spamassassin', ['--siteconfigpath', siteDir, '--lint', '--net', '-D', 'config,dns'], { maxBuffer: 1 << 24 });
  return stderr
    .split('\n')
    .filter((l) => l.includes('dbg: dns:'))
    .join('\n');
}

beforeAll(async () => {
  dir = await tmpDir('sa-site');
  etc = join(dir.path, 'etc');
  await mkdir(etc);
  for (const f of await readdir('/etc/spamassassin')) if (f.endsWith('.pre')) await copyFile(join('/etc/spamassassin', f), join(etc, f));
  for (const f of ['local.cf', 'moat-dnsbl.cf']) await copyFile(join(compose, f), join(etc, f));
  unbound = await startUnbound({ stubZones: {} });
});
afterAll(async () => {
  await unbound?.stop();
  await dir?.remove();
});

describe('spamd site config (compose/spamassassin/entrypoint.sh)', () => {
  it('MOAT_SPAMD_DNS: the runtime file sorts after local.cf, and SpamAssassin asks only that resolver', async () => {
    const s = await site('on', { MOAT_SPAMD_DNS: unbound.server });
    const files = (await readdir(s)).filter((f) => f.endsWith('.cf')).sort();
    expect(files.indexOf('zz_moat_runtime.cf')).toBeGreaterThan(files.indexOf('local.cf'));
    expect(await readFile(join(s, 'zz_moat_runtime.cf'), 'utf8')).toContain(`dns_server ${unbound.server}`);
    const dbg = await dnsDebug(s);
    expect(dbg).toContain('dns_available set to yes');
    expect(dbg).toContain(`servers set by config to: [127.0.0.1]:${unbound.port}`);
    // the stack's test resolver refuses public names at once: an answer, not a timeout
    expect(dbg).toMatch(/dns reply to .*: REFUSED/);
  }, 120_000);

  it('without MOAT_SPAMD_DNS no network test runs', async () => {
    const dbg = await dnsDebug(await site('off', {}));
    expect(dbg).toContain('dns_available set to no');
    expect(dbg).not.toContain('bgsend');
  }, 120_000);
});
