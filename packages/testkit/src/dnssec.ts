// DNSSEC for tests: zones signed with fresh ldns keys, served by Debian's nsd on a loopback port.
// Trusts ldnsutils and nsd from scripts/deps.mjs; the keys live in a temp dir and die with the test.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnDaemon, tmpDir, waitForPort } from './process.ts';

const run = promisify(execFile);

export interface SignedZone {
  origin: string;
  /** The signed zone file (ldns canonical form: one RR a line, tab-separated, names absolute). */
  signed: string;
  /** The KSK's DS record, `origin. DS tag alg 2 digest`: an Unbound `trust-anchor:` line. */
  ds: string;
}

const dot = (z: string) => (z.endsWith('.') ? z : `${z}.`);

/** Sign `zoneText` (a zone file for `origin`) with a new KSK and ZSK (ECDSA P-256, NSEC). */
export async function signZone(origin: string, zoneText: string): Promise<SignedZone> {
  const dir = await tmpDir('zone');
  try {
    const zone = dot(origin);
    const file = join(dir.path, 'zone');
    await writeFile(file, zoneText.startsWith('$ORIGIN') ? zoneText : `$ORIGIN ${zone}\n$TTL 60\n${zoneText}`);
    const keygen = async (ksk: boolean) =>
      (await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', ...(ksk ? ['-k'] : []), zone.replace(/\.$/, '')], { cwd: dir.path })).stdout.trim();
    const ksk = await keygen(true);
    const zsk = await keygen(false);
    await run('ldns-signzone', ['-f', `${file}.signed`, file, join(dir.path, ksk), join(dir.path, zsk)], { cwd: dir.path });
    const signed = await readFile(`${file}.signed`, 'utf8');
    const ds = (await readFile(join(dir.path, `${ksk}.ds`), 'utf8')).trim().split(/\s+/);
    // `name IN DS tag alg type digest` -> `name DS tag alg type digest`
    return { origin: zone, signed, ds: [ds[0], ...ds.slice(2)].join(' ') };
  } finally {
    await dir.remove();
  }
}

export interface NsdServer {
  port: number;
  /** `127.0.0.1@port`, the form Unbound's stub-addr takes. */
  stubAddr: string;
  output(): string;
  stop(): Promise<void>;
}

/** Start nsd on a free loopback port, authoritative for the given zones (origin -> zone file text). */
export async function startNsd(opts: { zones: Record<string, string> }): Promise<NsdServer> {
  const dir = await tmpDir('nsd');
  const zoneLines: string[] = [];
  for (const [i, [origin, text]] of Object.entries(opts.zones).entries()) {
    await writeFile(join(dir.path, `z${i}.zone`), text);
    zoneLines.push('zone:', `  name: "${dot(origin)}"`, `  zonefile: "z${i}.zone"`);
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const conf = [
      'server:',
      '  ip-address: 127.0.0.1',
      `  port: ${port}`,
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir.path}"`,
      '  database: ""',
      '  pidfile: ""',
      `  xfrdfile: "${dir.path}/xfrd.state"`,
      `  zonelistfile: "${dir.path}/zone.list"`,
      `  xfrdir: "${dir.path}"`,
      '  verbosity: 1',
      '  server-count: 1',
      '  do-ip6: no',
      'remote-control:',
      '  control-enable: no',
      ...zoneLines,
    ].join('\n');
    await writeFile(join(dir.path, 'nsd.conf'), `${conf}\n`);
    const d = spawnDaemon('nsd', ['-d', '-c', join(dir.path, 'nsd.conf')]);
    try {
      await waitForPort(port, '127.0.0.1', 10_000);
    } catch (err) {
      await d.stop();
      if (attempt < 2) continue;
      await dir.remove();
      throw new Error(`nsd did not start: ${String(err)}\n${d.output()}`);
    }
    return {
      port,
      stubAddr: `127.0.0.1@${port}`,
      output: () => d.output(),
      async stop() {
        await d.stop();
        await dir.remove();
      },
    };
  }
}
