// redis-server and redis-sentinel as plain processes on free loopback ports, for tests and benches.
// Trusts Debian's redis binaries; binds 127.0.0.1 only, persists nothing (temp dir, no RDB/AOF).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Daemon, freePort, spawnDaemon, tmpDir, waitForPort } from './process.ts';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** The running process (replaced by `restart()`). */
  daemon(): Daemon;
  /** SIGKILL at once: the fault a test injects. The temp dir stays for `restart()`. */
  kill(): Promise<void>;
  /** Start again on the same port (empty dataset: nothing is persisted). */
  restart(): Promise<void>;
  /** Stop and remove the temp dir. */
  stop(): Promise<void>;
}

export interface RedisSentinels {
  readonly masterName: string;
  readonly sentinels: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** One redis-server; `replicaOf` makes it a replica of that server. */
export async function startRedis(
  opts: { port?: number; replicaOf?: { host: string; port: number }; args?: string[] } = {},
): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = await tmpDir('redis');
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir.path,
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  if (opts.replicaOf) args.push('--replicaof', opts.replicaOf.host, String(opts.replicaOf.port));
  if (opts.args) args.push(...opts.args);
  const launch = async (): Promise<Daemon> => {
    const d = spawnDaemon('redis-server', args);
    try {
      await waitForPort(port, '127.0.0.1', 10_000);
    } catch (e) {
      await d.kill();
      throw new Error(`redis-server on ${port} did not start: ${(e as Error).message}\n${d.output()}`);
    }
    return d;
  };
  let current = await launch();
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    daemon: () => current,
    kill: () => current.kill(),
    async restart() {
      await current.kill();
      current = await launch();
    },
    async stop() {
      await current.stop();
      await dir.remove();
    },
  };
}

export interface RedisCluster {
  readonly nodes: { host: string; port: number }[];
  readonly servers: RedisServer[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `count` masters (no replicas), slots spread by `redis-cli --cluster create`;
 * resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(count = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      servers.push(
        await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }),
      );
    }
    const create = spawnDaemon('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const code = await new Promise<number | null>((resolve) => create.process.once('close', (c) => resolve(c)));
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}):\n${create.output()}`);
    const deadline = Date.now() + 20_000;
    for (const s of servers) {
      for (;;) {
        const info = spawnDaemon('redis-cli', ['-p', String(s.port), 'cluster', 'info']);
        await new Promise((resolve) => info.process.once('close', resolve));
        if (info.output().includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${s.port} not ok:\n${info.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    throw e;
  }
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    servers,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** Logins for `startSentinels`: the monitored master's (as in its `requirepass`/ACL) and the Sentinels' own. */
export interface SentinelAuth {
  /** `sentinel auth-pass` (and `auth-user`): how the Sentinels log in to the master and replicas. */
  masterPassword?: string;
  masterUsername?: string;
  /** The Sentinels' own `requirepass`, or with `sentinelUsername` an ACL user (`+@all`) on them; also `sentinel sentinel-pass/-user` between them. */
  sentinelPassword?: string;
  sentinelUsername?: string;
}

/**
 * `count` redis-sentinel processes watching `master` under `masterName`, quorum 2, tuned so a
 * killed master is failed over in a few seconds (down-after 1 s, failover-timeout 3 s).
 */
export async function startSentinels(
  masterName: string,
  master: { host: string; port: number },
  count = 3,
  auth: SentinelAuth = {},
): Promise<RedisSentinels> {
  // redis.conf's quoting, so passwords may hold spaces and quotes
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const authLines: string[] = [];
  if (auth.masterUsername) authLines.push(`sentinel auth-user ${masterName} ${q(auth.masterUsername)}`);
  if (auth.masterPassword) authLines.push(`sentinel auth-pass ${masterName} ${q(auth.masterPassword)}`);
  if (auth.sentinelPassword && auth.sentinelUsername) {
    authLines.push(`user ${q(auth.sentinelUsername)} on ${q(`>${auth.sentinelPassword}`)} +@all`, 'user default off');
    authLines.push(`sentinel sentinel-user ${q(auth.sentinelUsername)}`, `sentinel sentinel-pass ${q(auth.sentinelPassword)}`);
  } else if (auth.sentinelPassword) {
    authLines.push(`requirepass ${q(auth.sentinelPassword)}`, `sentinel sentinel-pass ${q(auth.sentinelPassword)}`);
  }
  const daemons: Daemon[] = [];
  const dirs: { remove(): Promise<void> }[] = [];
  const sentinels: { host: string; port: number }[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const dir = await tmpDir('sentinel');
    dirs.push(dir);
    const conf = join(dir.path, 'sentinel.conf');
    // Sentinel rewrites its own config file, so it must live in a writable temp dir.
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        'daemonize no',
        `dir ${dir.path}`,
        'loglevel warning',
        `sentinel monitor ${masterName} ${master.host} ${master.port} 2`,
        `sentinel down-after-milliseconds ${masterName} 1000`,
        `sentinel failover-timeout ${masterName} 3000`,
        `sentinel parallel-syncs ${masterName} 1`,
        ...authLines,
        '',
      ].join('\n'),
    );
    const d = spawnDaemon('redis-sentinel', [conf]);
    daemons.push(d);
    try {
      await waitForPort(port, '127.0.0.1', 10_000);
    } catch (e) {
      await Promise.all(daemons.map((x) => x.kill()));
      throw new Error(`redis-sentinel on ${port} did not start: ${(e as Error).message}\n${d.output()}`);
    }
    sentinels.push({ host: '127.0.0.1', port });
  }
  return {
    masterName,
    sentinels,
    async stop() {
      await Promise.all(daemons.map((d) => d.stop()));
      await Promise.all(dirs.map((d) => d.remove()));
    },
  };
}
