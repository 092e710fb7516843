// Real DNS daemons for tests: rbldnsd serving DNS-list zones, Unbound stubbing to it, and a black hole.
// Everything binds 127.0.0.1; Unbound refuses every name outside its stub zones, so no query leaves the host.
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { chmod, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from './process.ts';

/** rbldnsd dataset types (Debian's rbldnsd 1.0: ip6trie/ip6tset serve IPv6 lists). */
export type RbldnsdDataset = 'ip4set' | 'ip4tset' | 'ip4trie' | 'ip6trie' | 'ip6tset' | 'dnset' | 'generic' | 'combined';

export interface RbldnsdDataSpec {
  type: RbldnsdDataset;
  /** The dataset file's text, e.g. `:127.0.0.2:Listed $\n127.0.0.2\n192.0.2.1 :127.0.0.4:XBL`. */
  data: string;
}

/** One zone: a dataset, several datasets (answers combine: one name can get several A records), or ip4set text. */
export type RbldnsdZone = string | RbldnsdDataSpec | RbldnsdDataSpec[];

export interface RbldnsdServer {
  /** 127.0.0.1, or with `port53` its own 127.53.x.y. */
  address: string;
  port: number;
  /** `address@port`, the form Unbound's stub-addr takes. */
  stubAddr: string;
  /** Replace a zone's data (same dataset count and types) and wait until rbldnsd has reloaded it. */
  update(zone: string, spec: RbldnsdZone): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

function specs(z: RbldnsdZone): RbldnsdDataSpec[] {
  if (typeof z === 'string') return [{ type: 'ip4set', data: z }];
  return Array.isArray(z) ? z : [z];
}

function fileName(zone: string, i: number): string {
  return `${zone.replace(/[^a-z0-9.-]/gi, '_')}.${i}`;
}

/** Ask a DNS server one question through a throwaway resolver bound to it; true when it answered at all. */
async function answers(server: string, name: string): Promise<boolean> {
  const r = new Resolver({ timeout: 200, tries: 1 });
  r.setServers([server]);
  try {
    await r.resolve4(name);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'ENOTFOUND' || code === 'ENODATA';
  }
}

/** Start Debian's rbldnsd on a free loopback UDP port with the given zones. */
export async function startRbldnsd(opts: {
  zones: Record<string, RbldnsdZone>;
  ttl?: number;
  /**
   * Listen on port 53 of a loopback address of its own (127.53.x.y, picked at random until one is free; root
   * only): for a resolver that cannot be given a port, such as glibc's (a private Postfix's resolv.conf).
   */
  port53?: boolean;
}): Promise<RbldnsdServer> {
  const dir = await tmpDir('rbldnsd');
  // rbldnsd drops to the rbldns user when started as root: the files must be world-readable.
  await chmod(dir.path, 0o755);
  const zoneArgs: string[] = [];
  let stamp = Math.floor(Date.now() / 1000) - 1000;
  const write = async (zone: string, z: RbldnsdZone) => {
    const list = specs(z);
    for (const [i, s] of list.entries()) {
      const file = join(dir.path, fileName(zone, i));
      await writeFile(file, s.data.endsWith('\n') ? s.data : `${s.data}\n`, { mode: 0o644 });
      // rbldnsd notices changes by mtime (seconds): make every write a distinct, increasing second.
      stamp += 1;
      await utimes(file, stamp, stamp);
    }
    return list;
  };
  for (const [zone, z] of Object.entries(opts.zones)) {
    const list = await write(zone, z);
    list.forEach((s, i) => {
      zoneArgs.push(`${zone}:${s.type}:${fileName(zone, i)}`);
    });
  }
  const asRoot = process.getuid?.() === 0;
  let daemon: Daemon | undefined;
  let port = 0;
  let address = '127.0.0.1';
  if (opts.port53 && !asRoot) throw new Error('rbldnsd on port 53 needs root');
  for (let attempt = 0; attempt < 3 && !daemon; attempt++) {
    port = opts.port53 ? 53 : await freePort();
    if (opts.port53) address = `127.53.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
    const args = ['-n', '-a', '-t', String(opts.ttl ?? 60), '-c', '0', '-w', dir.path, '-b', `${address}/${port}`];
    if (asRoot) args.push('-u', 'rbldns');
    const d = spawnDaemon('rbldnsd', [...args, ...zoneArgs]);
    const deadline = Date.now() + 5000;
    let up = false;
    while (Date.now() < deadline) {
      if (d.process.exitCode !== null) break;
      if (d.output().includes(' started')) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (up) daemon = d;
    else {
      await d.stop();
      if (attempt === 2) {
        await dir.remove();
        throw new Error(`rbldnsd did not start:\n${d.output()}`);
      }
    }
  }
  const d = daemon as Daemon;
  return {
    address,
    port,
    stubAddr: `${address}@${port}`,
    async update(zone, z) {
      const before = d.output().split('zones reloaded').length;
      await write(zone, z);
      d.process.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (d.output().split('zones reloaded').length <= before) {
        if (Date.now() > deadline) throw new Error(`rbldnsd did not reload ${zone}:\n${d.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    output: () => d.output(),
    async stop() {
      await d.stop();
      await dir.remove();
    },
  };
}

export interface UnboundServer {
  address: '127.0.0.1';
  port: number;
  /** `127.0.0.1:port`, the form a DNS client's server list takes. */
  server: string;
  config: string;
  output(): string;
  stop(): Promise<void>;
}

export interface UnboundOptions {
  /** zone -> stub address(es) `127.0.0.1@port` (IPs only: stub-addr is never resolved). */
  stubZones: Record<string, string | string[]>;
  /** Unbound local-data lines' RR text, e.g. `health.moat.test. 60 IN A 127.0.0.1`. */
  localData?: string[];
  /** local-zone name -> type (`static`, `transparent`...). */
  localZones?: Record<string, string>;
  port?: number;
  /** Extra `server:` lines. */
  serverConfig?: string[];
  /**
   * DNSSEC trust anchors (`zone. DS ...` lines, from signZone): Unbound then validates, answers with the
   * AD bit for the zones under them and SERVFAIL for bogus answers. Without: no validator.
   */
  trustAnchors?: string[];
}

const q = (s: string) => `"${s.replace(/"/g, '')}"`;
const dot = (z: string) => (z.endsWith('.') ? z : `${z}.`);

/** The generated config: no root hints used, no trust-anchor updater, everything but the stub zones refused. */
export function unboundTestConfig(dir: string, port: number, o: UnboundOptions): string {
  const lines = [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${port}`,
    '  do-daemonize: no',
    '  username: ""',
    '  chroot: ""',
    `  directory: ${q(dir)}`,
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 1',
    '  num-threads: 1',
    '  do-ip6: no',
    '  access-control: 127.0.0.0/8 allow',
    // Our stub servers live on loopback, which Unbound refuses to query by default.
    '  do-not-query-localhost: no',
    // No validator unless given anchors of its own: the root's anchor would make Unbound probe the root.
    o.trustAnchors?.length ? '  module-config: "validator iterator"' : '  module-config: "iterator"',
    ...(o.trustAnchors ?? []).map((a) => `  trust-anchor: ${q(a)}`),
    ...(o.trustAnchors?.length ? ['  val-log-level: 2'] : []),
    '  qname-minimisation: yes',
    '  prefetch: yes',
    '  local-zone: "." refuse',
  ];
  // Each stub zone is punched through "." refuse (and through Unbound's built-in `test.` zone).
  for (const zone of Object.keys(o.stubZones)) lines.push(`  local-zone: ${q(dot(zone))} transparent`);
  for (const [zone, type] of Object.entries(o.localZones ?? {})) lines.push(`  local-zone: ${q(dot(zone))} ${type}`);
  for (const rr of o.localData ?? []) lines.push(`  local-data: '${rr.replace(/'/g, '')}'`);
  for (const l of o.serverConfig ?? []) lines.push(`  ${l}`);
  lines.push('remote-control:', '  control-enable: no');
  for (const [zone, addrs] of Object.entries(o.stubZones)) {
    lines.push('stub-zone:', `  name: ${q(dot(zone))}`);
    for (const a of Array.isArray(addrs) ? addrs : [addrs]) lines.push(`  stub-addr: ${a}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Start Unbound on a loopback port, serving only the given stub zones and local data. */
export async function startUnbound(opts: UnboundOptions): Promise<UnboundServer> {
  const dir = await tmpDir('unbound');
  const file = join(dir.path, 'unbound.conf');
  // freePort checks TCP only; a UDP-only neighbour (rbldnsd) may hold the same number: retry then.
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const config = unboundTestConfig(dir.path, port, opts);
    await writeFile(file, config);
    const d = spawnDaemon('unbound', ['-d', '-p', '-c', file]);
    const exited = new Promise<never>((_, reject) => d.process.once('exit', () => reject(new Error('unbound exited'))));
    exited.catch(() => undefined); // it exits at stop() too, long after the race is over
    try {
      await Promise.race([waitForPort(port, '127.0.0.1', 10_000), exited]);
    } catch (err) {
      await d.stop();
      if (attempt < 2 && opts.port === undefined) continue;
      await dir.remove();
      throw new Error(`unbound did not start: ${String(err)}\n${d.output()}\n${config}`);
    }
    // TCP is up; make sure UDP answers too before handing it out.
    const deadline = Date.now() + 5000;
    while (!(await answers(`127.0.0.1:${port}`, 'localhost')) && Date.now() < deadline);
    return {
      address: '127.0.0.1',
      port,
      server: `127.0.0.1:${port}`,
      config,
      output: () => d.output(),
      async stop() {
        await d.stop();
        await dir.remove();
      },
    };
  }
}

export interface BlackholeDns {
  address: '127.0.0.1';
  port: number;
  stubAddr: string;
  server: string;
  /** Queries received (UDP datagrams + TCP connections) and never answered. */
  received(): number;
  stop(): Promise<void>;
}

/** A "DNS server" that reads every query and never answers (UDP and TCP on one port): for timeout tests. */
export async function startBlackholeDns(): Promise<BlackholeDns> {
  let count = 0;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const udp = createSocket('udp4');
    const sockets = new Set<Socket>();
    const tcp = createServer((s) => {
      count++;
      sockets.add(s);
      s.on('data', () => undefined);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => resolve());
      });
    } catch (err) {
      udp.close();
      tcp.close();
      if (attempt >= 2) throw err;
      continue;
    }
    udp.on('message', () => {
      count++;
    });
    return {
      address: '127.0.0.1',
      port,
      stubAddr: `127.0.0.1@${port}`,
      server: `127.0.0.1:${port}`,
      received: () => count,
      async stop() {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => udp.close(() => r()));
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}
