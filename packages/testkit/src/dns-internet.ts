// A small simulated Internet for resolver tests: a root server, TLD servers and the list operators'
// servers (Debian's NSD, one process per role, each on its own 127.53.x.y:53), optionally DNSSEC-signed.
// Trusts NSD and ldnsutils; binds only loopback addresses of its own (port 53 needs root, as in CI).
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Daemon, spawnDaemon, tmpDir } from './process.ts';

const run = promisify(execFile);

/** How a registered domain's delegation behaves. */
export type Delegation = 'ok' | 'lame' | 'partly-lame' | 'timeout';

export interface DnsInternetOptions {
  /**
   * Registered domains (spamhaus.org, dnswl.org...) and their records as zone-file lines with absolute
   * owner names (`2.0.0.127.zen.spamhaus.org. A 127.0.0.2`). SOA and NS are added.
   */
  domains: Record<string, string[]>;
  /** A domain's delegation: `lame` to a server that refuses it, `partly-lame` to that one and a good one, `timeout` to one that never answers. */
  delegation?: Record<string, Delegation>;
  /** TLDs that exist but delegate nothing else (a defunct list's domain gets NXDOMAIN from its TLD). */
  extraTlds?: string[];
  /** Sign every zone (ECDSA P-256, NSEC) and hand out the root's DS as the trust anchor. */
  dnssec?: boolean;
  /** Records swapped into a domain's zone AFTER signing (the old signatures stay): a forged, bogus answer. */
  forged?: Record<string, { replace: string; with: string }>;
  /** Negative-cache TTL (SOA minimum) and record TTL, seconds (default 300). */
  ttl?: number;
}

export interface DnsInternet {
  /** The root hints file's text (`.` NS and the root server's address). */
  rootHints: string;
  /** The root's DS record (trust anchor), with `dnssec`. */
  trustAnchor?: string | undefined;
  /** Addresses by role: root, tld, operators, lame, timeout. */
  addresses: Record<'root' | 'tld' | 'operators' | 'lame' | 'timeout', string>;
  /** Queries received by every fake server so far (NSD's counters, and the silent server's). */
  queries(): Promise<Record<'root' | 'tld' | 'operators' | 'lame' | 'timeout', number>>;
  stop(): Promise<void>;
}

const dot = (z: string) => (z.endsWith('.') ? z : `${z}.`);
const tldOf = (d: string) => d.replace(/\.$/, '').split('.').pop()!;

interface Nsd {
  daemon: Daemon;
  conf: string;
}

async function startNsd(dir: string, name: string, address: string, zones: Record<string, string>): Promise<Nsd> {
  const conf = join(dir, `${name}.conf`);
  const lines = [
    'server:',
    `  ip-address: ${address}`,
    '  port: 53',
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${dir}"`,
    '  database: ""',
    '  pidfile: ""',
    `  xfrdfile: "${dir}/${name}.xfrd"`,
    `  zonelistfile: "${dir}/${name}.zonelist"`,
    `  xfrdir: "${dir}"`,
    `  logfile: "${dir}/${name}.log"`,
    '  server-count: 1',
    '  verbosity: 1',
    '  hide-version: yes',
    'remote-control:',
    '  control-enable: yes',
    `  control-interface: ${dir}/${name}.ctl`,
  ];
  for (const [zone, file] of Object.entries(zones)) lines.push('zone:', `  name: "${zone}"`, `  zonefile: "${file}"`);
  await writeFile(conf, `${lines.join('\n')}\n`);
  const daemon = spawnDaemon('nsd', ['-d', '-c', conf]);
  // up when its control socket answers (then its zones are loaded)
  for (let i = 0; ; i++) {
    try {
      await run('nsd-control', ['-c', conf, 'status']);
      break;
    } catch (e) {
      if (i > 200 || daemon.process.exitCode !== null) {
        await daemon.stop();
        throw new Error(`nsd ${name} did not start: ${String(e)}\n${daemon.output()}\n${await readFile(join(dir, `${name}.log`), 'utf8').catch(() => '')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { daemon, conf };
}

async function nsdQueries(n: Nsd): Promise<number> {
  const { stdout } = await run('nsd-control', ['-c', n.conf, 'stats_noreset']);
  return Number(/^num\.queries=(\d+)$/m.exec(stdout)?.[1] ?? Number.NaN);
}

/** UDP and TCP on address:53 that read every query and never answer. */
async function startSilent(address: string): Promise<{ count(): number; stop(): Promise<void> }> {
  let count = 0;
  const udp: UdpSocket = createSocket('udp4');
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on('data', () => undefined).on('error', () => undefined).on('close', () => sockets.delete(s));
  });
  udp.on('message', () => count++);
  await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(53, address, () => resolve()));
  await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(53, address, () => resolve()));
  return {
    count: () => count,
    async stop() {
      for (const s of sockets) s.destroy();
      udp.close();
      await new Promise((r) => tcp.close(r));
    },
  };
}

/** Sign `zone` from `file` (in dir) with a fresh key; returns the signed file's name and the zone's DS. */
async function sign(dir: string, zone: string, file: string): Promise<{ signed: string; ds: string }> {
  const { stdout } = await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', zone], { cwd: dir });
  const key = stdout.trim();
  // NSEC (not NSEC3): what small zones use; aggressive-nsec in the production config reads it
  await run('ldns-signzone', ['-o', zone, '-f', `${file}.signed`, file, key], { cwd: dir });
  const { stdout: dsOut } = await run('ldns-key2ds', ['-n', '-2', `${key}.key`], { cwd: dir });
  return { signed: `${file}.signed`, ds: dsOut.trim() };
}

export async function startDnsInternet(o: DnsInternetOptions): Promise<DnsInternet> {
  const dir = await tmpDir('dns-internet');
  const ttl = o.ttl ?? 300;
  // a /24 of loopback of our own: other tests bind 127.0.0.1 with free ports, never these
  const base = `127.53.${1 + Math.floor(Math.random() * 250)}`;
  const addresses = { root: `${base}.1`, tld: `${base}.2`, operators: `${base}.3`, lame: `${base}.4`, timeout: `${base}.5` };
  const ns = {
    root: 'a.root-servers.test.',
    tld: 'ns.tld-servers.test.',
    operators: 'ns.operators.test.',
    lame: 'ns.lame.test.',
    timeout: 'ns.silent.test.',
  };
  const soa = (zone: string, nsName: string) => `${dot(zone)} ${ttl} IN SOA ${nsName} hostmaster.${dot(zone) === '.' ? '' : dot(zone)} 1 3600 600 86400 ${ttl}`;
  const glue = (role: keyof typeof ns) => `${ns[role]} ${ttl} IN A ${addresses[role]}`;
  const nsOf = (d: string): Array<keyof typeof ns> => {
    const how = o.delegation?.[d] ?? 'ok';
    return how === 'ok' ? ['operators'] : how === 'lame' ? ['lame'] : how === 'partly-lame' ? ['lame', 'operators'] : ['timeout'];
  };

  const domains = Object.keys(o.domains).map((d) => d.replace(/\.$/, ''));
  const tlds = [...new Set([...domains.map(tldOf), ...(o.extraTlds ?? []), 'test'])];
  const ds = new Map<string, string>();
  const files: Record<'root' | 'tld' | 'operators', Record<string, string>> = { root: {}, tld: {}, operators: {} };

  // leaves first: each parent carries its children's DS before it is signed
  for (const d of domains) {
    const file = `${d}.zone`;
    const records = [soa(d, ns.operators), `${dot(d)} ${ttl} IN NS ${ns.operators}`, ...o.domains[d]!.map((r) => (/\sIN\s/.test(r) ? r : r.replace(/^(\S+)\s+/, `$1 ${ttl} IN `)))];
    await writeFile(join(dir.path, file), `${records.join('\n')}\n`);
    let served = file;
    if (o.dnssec) {
      const s = await sign(dir.path, dot(d), file);
      ds.set(d, s.ds);
      served = s.signed;
      const forged = o.forged?.[d];
      if (forged) {
        const text = await readFile(join(dir.path, served), 'utf8');
        const re = new RegExp(`^(${forged.replace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.?\\s+\\d+\\s+IN\\s+A\\s+)\\S+$`, 'm');
        if (!re.test(text)) throw new Error(`forged: no A record ${forged.replace} in the signed ${d}`);
        await writeFile(join(dir.path, served), text.replace(re, `$1${forged.with}`));
      }
    }
    files.operators[dot(d)] = served;
  }
  for (const tld of tlds) {
    const file = `${tld}.zone`;
    const records = [soa(tld, ns.tld), `${tld}. ${ttl} IN NS ${ns.tld}`];
    for (const d of domains.filter((x) => tldOf(x) === tld)) {
      for (const role of nsOf(d)) records.push(`${dot(d)} ${ttl} IN NS ${ns[role]}`);
      if (ds.has(d)) records.push(ds.get(d)!);
    }
    // the servers' own names live in test. (glue for every role)
    if (tld === 'test') for (const role of Object.keys(ns) as Array<keyof typeof ns>) records.push(glue(role));
    await writeFile(join(dir.path, file), `${records.join('\n')}\n`);
    let served = file;
    if (o.dnssec) {
      const s = await sign(dir.path, `${tld}.`, file);
      ds.set(tld, s.ds);
      served = s.signed;
    }
    files.tld[`${tld}.`] = served;
  }
  const rootRecords = [soa('.', ns.root), `. ${ttl} IN NS ${ns.root}`];
  for (const tld of tlds) rootRecords.push(`${tld}. ${ttl} IN NS ${ns.tld}`, ...(ds.has(tld) ? [ds.get(tld)!] : []));
  rootRecords.push(glue('root'), glue('tld'));
  await writeFile(join(dir.path, 'root.zone'), `${rootRecords.join('\n')}\n`);
  let rootServed = 'root.zone';
  let trustAnchor: string | undefined;
  if (o.dnssec) {
    const s = await sign(dir.path, '.', 'root.zone');
    rootServed = s.signed;
    trustAnchor = s.ds;
  }
  files.root['.'] = rootServed;

  const started: Nsd[] = [];
  let silent: Awaited<ReturnType<typeof startSilent>> | undefined;
  const stopAll = async () => {
    await Promise.allSettled(started.map((n) => n.daemon.stop()));
    await silent?.stop();
  };
  try {
    const [root, tld, operators, lame] = await Promise.all([
      startNsd(dir.path, 'root', addresses.root, files.root),
      startNsd(dir.path, 'tld', addresses.tld, files.tld),
      startNsd(dir.path, 'operators', addresses.operators, files.operators),
      // serves nothing: every question gets REFUSED, as a lame delegation's server answers
      startNsd(dir.path, 'lame', addresses.lame, {}),
    ]);
    started.push(root, tld, operators, lame);
    silent = await startSilent(addresses.timeout);
    const s = silent;
    return {
      rootHints: `. 3600000 IN NS ${ns.root}\n${ns.root} 3600000 IN A ${addresses.root}\n`,
      trustAnchor,
      addresses,
      async queries() {
        const [r, t, op, l] = await Promise.all([root, tld, operators, lame].map(nsdQueries));
        return { root: r!, tld: t!, operators: op!, lame: l!, timeout: s.count() };
      },
      async stop() {
        await stopAll();
        await dir.remove();
      },
    };
  } catch (e) {
    await stopAll();
    await dir.remove();
    throw e;
  }
}
