// The shipped Unbound configs (compose/unbound) checked with Debian's unbound: the production file parses,
// and the test file, moved onto loopback, serves moat.test. from rbldnsd and refuses everything else.
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type RbldnsdServer, spawnDaemon, startRbldnsd, tmpDir, waitForPort } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = new URL('../../../compose/unbound/', import.meta.url).pathname;
// The root KSK-2017 DS record, standing in for dns-root-data's root.key (checkconf wants the file).
const rootDs = '. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n';

let rbl: RbldnsdServer;
beforeAll(async () => {
  rbl = await startRbldnsd({ zones: { 'bl.moat.test': ':127.0.0.2:listed\n127.0.0.2\n192.0.2.66\n' } });
});
afterAll(async () => {
  await rbl?.stop();
});

describe('compose/unbound', () => {
  it('unbound.conf (production) passes unbound-checkconf', async () => {
    const tmp = await tmpDir('unbound-conf');
    try {
      const conf = (await readFile(join(dir, 'unbound.conf'), 'utf8'))
        .replace('/var/lib/unbound/root.key', join(tmp.path, 'root.key'))
        .replace('username: "unbound"', 'username: ""');
      await writeFile(join(tmp.path, 'root.key'), rootDs);
      await writeFile(join(tmp.path, 'unbound.conf'), conf);
      const { stdout } = await run('unbound-checkconf', [join(tmp.path, 'unbound.conf')]);
      expect(stdout).toContain('no errors');
    } finally {
      await tmp.remove();
    }
  });

  it('unbound.test.conf serves moat.test. through the stub and refuses the rest', async () => {
    const tmp = await tmpDir('unbound-test-conf');
    const port = await freePort();
    const conf = (await readFile(join(dir, 'unbound.test.conf'), 'utf8'))
      .replace('interface: 0.0.0.0', 'interface: 127.0.0.1')
      .replace('port: 53', `port: ${port}\n    do-not-query-localhost: no\n    pidfile: ""`)
      .replace('username: "unbound"', 'username: ""')
      .replace(/stub-addr: .*/, `stub-addr: ${rbl.stubAddr}`)
      // the records the stack generates (the DKIM TXT of scripts/stack.mjs ensureTestDkim): one stand-in file here
      .replace('/etc/unbound/moat-test-records/', `${join(tmp.path, 'records')}/`);
    await mkdir(join(tmp.path, 'records'));
    await writeFile(join(tmp.path, 'records', 'dkim.conf'), 'local-data: \'default._domainkey.moat.test. TXT "v=DKIM1; p=stand-in"\'\n');
    const file = join(tmp.path, 'unbound.conf');
    await writeFile(file, conf);
    const d = spawnDaemon('unbound', ['-d', '-p', '-c', file]);
    try {
      await waitForPort(port);
      const r = new Resolver({ timeout: 500, tries: 2 });
      r.setServers([`127.0.0.1:${port}`]);
      expect(await r.resolve4('66.2.0.192.bl.moat.test')).toEqual(['127.0.0.2']);
      expect(await r.resolve4('health.moat')).toEqual(['127.0.0.1']);
      expect(await r.resolve4('localhost')).toEqual(['127.0.0.1']); // the image's other health probe
      await expect(r.resolve4('1.0.0.127.bl.moat.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await expect(r.resolve4('www.example.com')).rejects.toMatchObject({ code: 'EREFUSED' });
    } finally {
      await d.stop();
      await tmp.remove();
    }
  });
});
