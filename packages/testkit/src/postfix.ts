// A private Postfix instance (Debian's package) on loopback ports, with its own config and queue directories.
// Trusts Debian's postfix binaries; listens on 127.0.0.1 only, resolves no names, delivers to discard(8) or a loopback relay.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, processAlive, spawnDaemon, tmpDir, waitForPort } from './process.ts';

const run = promisify(execFile);

export interface PostfixOptions {
  /**
   * One smtpd listener per entry: name -> its smtpd_recipient_restrictions (Postfix syntax, as in
   * main.cf; '' for none; null: main.cf's own smtpd_recipient_restrictions, as `main` sets it). Each gets its own
   * free port, so one instance can compare settings side by side.
   */
  listeners: Record<string, string | null>;
  /** Domains Postfix accepts mail for (relay_domains, default example.org); mail to them is discarded after 250 ... */
  domains?: string[];
  /**
   * ... or relayed to this SMTP server (default and relay transport `smtp:[host]:port`), e.g. an smtp-sink
   * from `startSmtpSink` to look at what arrived, or a counting sink for a benchmark.
   */
  relay?: { host: string; port: number } | undefined;
  /**
   * Extra main.cf settings (override the defaults below, e.g. mynetworks or default_process_limit); null
   * removes one of the defaults below, so Postfix's own default applies (e.g. smtpd_relay_restrictions).
   */
  main?: Record<string, string | null>;
  /** Extra master.cf lines, e.g. `local unix - n n - - local` to run local(8) (alias_maps) with local_transport = local. */
  services?: string[];
  /**
   * The /etc/resolv.conf this instance sees (e.g. `nameserver 127.53.1.2`, a loopback DNS server on port 53 the
   * test started): Postfix (glibc) takes no other resolver setting, so its master runs in a mount namespace of
   * its own (`unshare --mount`, root only) with this file bound over /etc/resolv.conf. Its DNS lookups are
   * then turned on (disable_dns_lookups = no); without this option it looks nothing up.
   */
  resolvConf?: string | undefined;
}

export interface PostfixInstance {
  /** Port of each listener, by the name given in `listeners`. */
  readonly ports: Readonly<Record<string, number>>;
  /** The instance's directory (config in `etc/`, queue in `queue/`, log in `maillog`). */
  readonly dir: string;
  /** Its queue_directory (owned by postfix; readable as root). */
  readonly queueDir: string;
  /** Messages in the queue now (files under incoming, active, deferred, hold): 0 once all are delivered or discarded. */
  queued(): Promise<number>;
  /** Postfix's own log so far (maillog_file), for assertions and failure messages. */
  log(): Promise<string>;
  /** `postfix stop`, wait for the master to exit, remove the directory. */
  stop(): Promise<void>;
}

const postfix = '/usr/sbin/postfix';

// Masters still running when the test process exits (a crashed test, no afterAll): killed so no private
// Postfix outlives its test run. Its children notice the master's death and exit on their own.
const masters = new Set<number>();
let exitHook = false;
function remember(pid: number | undefined): void {
  if (pid === undefined) return;
  masters.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of masters) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

// Every service a listening smtpd and the queue need; no chroot (the paths are private temp dirs).
const masterServices = `
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  const tmp = await tmpDir('postfix');
  // Postfix's daemons drop to the postfix user and must be able to reach their queue directory.
  await chmod(tmp.path, 0o755);
  const etc = join(tmp.path, 'etc');
  const queue = join(tmp.path, 'queue');
  const data = join(tmp.path, 'data');
  const maillog = join(tmp.path, 'maillog');
  await mkdir(etc, { mode: 0o755 });
  await mkdir(queue, { mode: 0o755 });
  await mkdir(data, { mode: 0o700 });
  await run('chown', ['postfix:postfix', data]);

  const ports: Record<string, number> = {};
  const lines: string[] = [];
  for (const [name, restrictions] of Object.entries(opts.listeners)) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`listener name ${name}: use [a-z0-9_]`);
    const port = await freePort();
    ports[name] = port;
    // master.cf cannot hold the list (spaces, braces): it lives in main.cf under its own name.
    if (restrictions !== null) lines.push(`moat_${name}_restrictions = ${restrictions.replace(/\s*\n\s*/g, ' ')}`);
  }
  const domains = opts.domains ?? ['example.org'];
  const main: Record<string, string | null> = {
    compatibility_level: '3.6',
    config_directory: etc,
    queue_directory: queue,
    data_directory: data,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    maillog_file: maillog,
    // Postfix refuses a log file outside these prefixes (a fatal error it can only report to syslog).
    maillog_file_prefixes: `${tmp.path}, /dev/stdout`,
    myhostname: 'mx.moat.test',
    mydomain: 'moat.test',
    myorigin: 'moat.test',
    mydestination: '',
    relay_domains: domains.join(' '),
    mynetworks: '127.0.0.1/32',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    // No DNS at all: the network rule. XCLIENT gives the client name when a test needs one.
    smtpd_peername_lookup: 'no',
    disable_dns_lookups: 'yes',
    smtp_dns_support_level: 'disabled',
    default_transport: opts.relay ? `smtp:[${opts.relay.host}]:${opts.relay.port}` : 'discard:',
    relay_transport: opts.relay ? `smtp:[${opts.relay.host}]:${opts.relay.port}` : 'discard:',
    local_transport: 'discard:',
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    biff: 'no',
    append_dot_mydomain: 'no',
    smtpd_authorized_xclient_hosts: '127.0.0.0/8',
    smtpd_relay_restrictions: 'reject_unauth_destination',
    smtpd_policy_service_retry_delay: '1s',
    smtpd_error_sleep_time: '0',
    smtpd_soft_error_limit: '1000',
    smtpd_hard_error_limit: '1000',
    smtpd_client_connection_count_limit: '0',
    smtpd_client_connection_rate_limit: '0',
    anvil_rate_time_unit: '60s',
    queue_run_delay: '1s',
    smtp_connect_timeout: '5s',
    smtp_tls_security_level: 'none',
    ...(opts.resolvConf !== undefined ? { disable_dns_lookups: 'no' } : {}),
    ...opts.main,
  };
  const mainCf = [...Object.entries(main).flatMap(([k, v]) => (v === null ? [] : [`${k} = ${v}`])), ...lines];
  await writeFile(join(etc, 'main.cf'), `${mainCf.join('\n')}\n`);
  const smtpds = Object.entries(ports).map(
    ([name, port]) =>
      `127.0.0.1:${port} inet n - n - - smtpd\n  -o syslog_name=postfix-${name}${opts.listeners[name] === null ? '' : `\n  -o smtpd_recipient_restrictions=$moat_${name}_restrictions`}`,
  );
  await writeFile(join(etc, 'master.cf'), `${smtpds.join('\n')}\n${masterServices}${(opts.services ?? []).map((l) => `${l}\n`).join('')}`);

  const env = { ...process.env, MAIL_CONFIG: etc };
  const pf = (...args: string[]) => run(postfix, ['-c', etc, ...args], { env, timeout: 60_000 });
  try {
    await pf('check');
    if (opts.resolvConf !== undefined) {
      const rc = join(tmp.path, 'resolv.conf');
      await writeFile(rc, opts.resolvConf.endsWith('\n') ? opts.resolvConf : `${opts.resolvConf}\n`, { mode: 0o644 });
      // The master and every child it forks share the namespace; nothing outside it sees the bind mount.
      const script = 'mount --bind "$0" /etc/resolv.conf && exec "$1" -c "$2" start';
      await run('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, rc, postfix, etc], { env, timeout: 60_000 });
    } else await pf('start');
    remember(await masterPid(queue));
    for (const port of Object.values(ports)) await waitForPort(port, '127.0.0.1', 15_000);
  } catch (e) {
    const log = await readFile(maillog, 'utf8').catch(() => '');
    await stopMaster(etc, queue);
    if (!process.env.MOAT_KEEP_POSTFIX) await tmp.remove();
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`private postfix did not start: ${(e as Error).message}\n${stdout}${stderr}\n${log}`);
  }
  return {
    ports,
    dir: tmp.path,
    queueDir: queue,
    queued: () => countQueued(queue),
    log: () => readFile(maillog, 'utf8').catch(() => ''),
    async stop() {
      await stopMaster(etc, queue);
      await tmp.remove();
    },
  };
}

// deferred/ and defer/ are hashed into subdirectories (hash_queue_names), hence the recursive walk.
async function countQueued(queue: string): Promise<number> {
  let n = 0;
  for (const sub of ['incoming', 'active', 'deferred', 'hold']) {
    const entries = await readdir(join(queue, sub), { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isFile()) n++;
  }
  return n;
}

async function masterPid(queue: string): Promise<number | undefined> {
  const text = await readFile(join(queue, 'pid', 'master.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}


/** `postfix stop` is asynchronous: wait for the master (and with it its children) to go; SIGKILL after 10 s. */
async function stopMaster(etc: string, queue: string): Promise<void> {
  const pid = await masterPid(queue);
  await run(postfix, ['-c', etc, 'stop'], { env: { ...process.env, MAIL_CONFIG: etc }, timeout: 30_000 }).catch(() => {});
  if (pid === undefined) return;
  masters.delete(pid);
  const deadline = Date.now() + 10_000;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}

export interface SmtpSink {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The messages received so far, each as written by smtp-sink -d (envelope records, then the message). */
  messages(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Postfix's smtp-sink on a loopback port, dumping every mail transaction to a file of its own. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = await tmpDir('smtp-sink');
  // smtp-sink drops to nobody: the dump directory must be writable by it.
  await chmod(dir.path, 0o777);
  const port = await freePort();
  const d = spawnDaemon('smtp-sink', ['-u', 'nobody', '-d', `${dir.path}/m.`, `127.0.0.1:${port}`, '64']);
  try {
    await waitForPort(port, '127.0.0.1', 10_000);
  } catch (e) {
    await d.kill();
    await dir.remove();
    throw new Error(`smtp-sink did not start: ${(e as Error).message}\n${d.output()}`);
  }
  return {
    host: '127.0.0.1',
    port,
    async messages() {
      const names = (await readdir(dir.path)).filter((n) => n.startsWith('m.')).sort();
      return Promise.all(names.map((n) => readFile(join(dir.path, n), 'latin1')));
    },
    async stop() {
      await d.stop();
      await dir.remove();
    },
  };
}
