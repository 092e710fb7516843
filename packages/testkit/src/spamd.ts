// Start a real SpamAssassin spamd on a free loopback port, with a private world-readable site config.
// Local tests only (-L: no network tests); runs as debian-spamd when we are root, as spamd requires.
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, freePort, spawnDaemon, tmpDir, waitForPort } from './process.ts';

/** SpamAssassin's GTUBE test string: any spamd scores a message containing it 1000. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export interface SpamdDaemon extends Daemon {
  host: string;
  port: number;
  /** The site config directory (local.cf + the Debian .pre files). */
  configDir: string;
  /** Stop and remove the config dir. */
  close(): Promise<void>;
}

export interface StartSpamdOptions {
  /** Extra lines for local.cf (e.g. `required_score 5.0`). */
  localCf?: string;
  /** spamd children (default 2: the tests are small, the machine has 2 cores). */
  maxChildren?: number;
  timeoutMs?: number;
  /** spamd --allow-tell: accept TELL (spamc -L spam|ham) to learn into Bayes. */
  allowTell?: boolean;
  /**
   * Turn Bayes on: `file` keeps a private DB in the config dir (written by debian-spamd); a Redis
   * address (`host:port`, optional `password`) uses SpamAssassin's Redis store, database 2.
   */
  bayes?: 'file' | { redis: string; password?: string };
}

export async function startSpamd(opts: StartSpamdOptions = {}): Promise<SpamdDaemon> {
  const dir = await tmpDir('spamd');
  // spamd drops to debian-spamd before reading its config: every piece must be world-readable
  await chmod(dir.path, 0o755);
  for (const f of await readdir('/etc/spamassassin')) {
    if (f.endsWith('.pre')) await copyFile(join('/etc/spamassassin', f), join(dir.path, f));
  }
  const bayes: string[] = [];
  if (opts.bayes === 'file') {
    const db = join(dir.path, 'bayes');
    bayes.push('use_bayes 1', `bayes_path ${db}/bayes`, 'bayes_file_mode 0777');
  } else if (opts.bayes) {
    const pw = opts.bayes.password === undefined ? '' : `;password=${opts.bayes.password}`;
    bayes.push('use_bayes 1', 'bayes_store_module Mail::SpamAssassin::BayesStore::Redis', `bayes_sql_dsn server=${opts.bayes.redis}${pw};database=2`, 'bayes_auto_expire 1');
  }
  const localCf = ['use_bayes 0', 'bayes_auto_learn 0', 'required_score 5.0', ...bayes, opts.localCf ?? ''].join('\n');
  await writeFile(join(dir.path, 'local.cf'), `${localCf}\n`);
  for (const f of await readdir(dir.path)) await chmod(join(dir.path, f), 0o644);
  if (opts.bayes === 'file') {
    // made after the 0644 pass above; debian-spamd writes the DB here
    await mkdir(join(dir.path, 'bayes'), { mode: 0o777 });
    await chmod(join(dir.path, 'bayes'), 0o777);
  }
  const port = await freePort();
  const args = [
    '-L',
    '-x',
    '--listen',
    `127.0.0.1:${port}`,
    '--siteconfigpath',
    dir.path,
    '--max-children',
    String(opts.maxChildren ?? 2),
    '--syslog',
    'stderr',
    '--pidfile',
    join(dir.path, 'spamd.pid'),
  ];
  if (process.getuid?.() === 0) args.push('-u', 'debian-spamd');
  if (opts.allowTell) args.push('--allow-tell');
  const daemon = spawnDaemon('/usr/sbin/spamd', args);
  try {
    await waitForPort(port, '127.0.0.1', opts.timeoutMs ?? 30_000);
  } catch (e) {
    await daemon.stop();
    await dir.remove();
    throw new Error(`spamd did not start: ${(e as Error).message}\n${daemon.output()}`);
  }
  return {
    ...daemon,
    host: '127.0.0.1',
    port,
    configDir: dir.path,
    async close() {
      await daemon.stop(5000);
      await dir.remove();
    },
  };
}
