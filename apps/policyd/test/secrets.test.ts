// Secrets never echoed: one run with a Spamhaus-DQS-style zone pair (KEY.zen / KEY.dbl.dq.spamhaus.net, served
// by rbldnsd through Unbound) that lists the client, and a password-protected Redis whose URL comes from a
// _FILE secret. Every output of the run is captured (policyd's log lines and replies, /metrics, the decision
// journal, `moat zones`, `moat explain` live and recorded, the console's pages and API and its log) and grepped
// for the key and the password.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '@moat/auth';
import { createJournal } from '@moat/journal';
import { createLogger, createRegistry } from '@moat/observe';
import {
  type Daemon,
  freePort,
  type RbldnsdServer,
  type RedisServer,
  spawnDaemon,
  startRbldnsd,
  startRedis,
  startUnbound,
  tmpDir,
  type UnboundServer,
  waitForPort,
} from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KEY = 'Zq7k2VbN4mXw9Ht3Rp6Ls8Dj1F';
const REDIS_PASSWORD = `rEd1s-S3cret-${process.pid}`;
const ZEN = `${KEY}.zen.dq.spamhaus.net`;
const DBL = `${KEY}.dbl.dq.spamhaus.net`;
const LISTED = '203.0.113.66';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let dir: Awaited<ReturnType<typeof tmpDir>>;
let redis: RedisServer;
let rbl: RbldnsdServer;
let unbound: UnboundServer;
let policyd: Daemon;
let consoleD: Daemon | undefined;
let config: string;
let env: Record<string, string>;
let redisUrl: string;
let policyPort: number;
let metricsPort: number;
/** Every output of the run, by where it came from. */
const outputs: Record<string, string> = {};

function ask(attrs: Record<string, string>): Promise<string> {
  const req = `${Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', protocol_name: 'ESMTP', ...attrs })
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n\n`;
  return new Promise((resolve, reject) => {
    const s = connect(policyPort, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(req));
    s.on('data', (b) => {
      got += b.toString();
      if (got.endsWith('\n\n')) {
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

/** `moat ARGS` with the run's environment; its stdout and its stderr (the CLI's debug log lines). */
function moat(args: string[]): Promise<{ out: string; all: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'apps/cli/src/main.ts'), ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (_e, stdout, stderr) =>
      resolve({ out: stdout, all: `${stdout}${stderr}` }),
    );
  });
}

beforeAll(async () => {
  dir = await tmpDir('policyd-secrets');
  redis = await startRedis({ args: ['--requirepass', REDIS_PASSWORD] });
  rbl = await startRbldnsd({
    zones: {
      [ZEN]: `:127.0.0.2:Listed in zen, see https://check.spamhaus.org/ $\n127.0.0.2\n${LISTED}\n`,
      [DBL]: { type: 'dnset', data: ':127.0.1.2:Domain $ is in the DBL\ntest\nspammer.example\n' },
    },
  });
  unbound = await startUnbound({ stubZones: { [ZEN]: rbl.stubAddr, [DBL]: rbl.stubAddr } });
  redisUrl = `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`;
  const urlFile = join(dir.path, 'redis-url');
  await writeFile(urlFile, `${redisUrl}\n`, { mode: 0o600 });
  config = join(dir.path, 'moat.yaml');
  await writeFile(
    config,
    `version: 1
policy:
  hostname: mx.moat.test
  recipient_restrictions: |
    reject_rbl_client ${ZEN}=127.0.0.[2..11],
    reject_rhsbl_sender ${DBL},
    check_policy_service inet:127.0.0.1:10023
recipients:
  domains: [example.org]
dns:
  resolver: ${unbound.server}
greylist:
  delay: 60s
  auto_whitelist_count: 0
policyd:
  journal: true
queue:
  dir: ${join(dir.path, 'spool')}
`,
  );
  env = { MOAT_REDIS_URL_FILE: urlFile, MOAT_LOG_LEVEL: 'debug' };
  policyPort = await freePort();
  metricsPort = await freePort();
  policyd = spawnDaemon(
    process.execPath,
    [join(ROOT, 'apps/policyd/src/main.ts'), '--config', config, '--listen', `127.0.0.1:${policyPort}`, '--metrics', `127.0.0.1:${metricsPort}`],
    { env: { ...process.env, ...env } },
  );
  await waitForPort(policyPort, '127.0.0.1', 20_000).catch((e) => {
    throw new Error(`${e}\n${policyd.output()}`);
  });
}, 90_000);

afterAll(async () => {
  await consoleD?.stop(5000);
  await policyd?.stop(5000);
  await Promise.allSettled([unbound?.stop(), rbl?.stop(), redis?.stop()]);
  await dir?.remove();
});

describe('secrets never echoed', () => {
  it('policyd answers with the display name, and greylists through the password-protected Redis', async () => {
    const zen = await ask({ client_address: LISTED, client_name: 'unknown', helo_name: 'a.example.net', sender: 'x@a.example.net', recipient: 'rcpt@example.org', instance: 's1' });
    expect(zen).toMatch(/^action=554 5\.7\.1 .*blocked using zen\.dq\.spamhaus\.net/);
    const dbl = await ask({ client_address: '198.51.100.9', client_name: 'unknown', helo_name: 'b.example.net', sender: 'x@spammer.example', recipient: 'rcpt@example.org', instance: 's2' });
    expect(dbl).toMatch(/^action=554 5\.7\.1 .*dbl\.dq\.spamhaus\.net/);
    const grey = await ask({ client_address: '198.51.100.10', client_name: 'unknown', helo_name: 'c.example.net', sender: 'y@c.example.net', recipient: 'rcpt@example.org', instance: 's3' });
    expect(grey).toMatch(/^action=DEFER_IF_PERMIT/);
    outputs.replies = [zen, dbl, grey].join('');
  });

  it('collects /metrics, the journal, moat zones / explain, and the console', async () => {
    outputs.metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(outputs.metrics).toContain('zone="zen.dq.spamhaus.net"');

    const journal = createJournal({ redis: { url: redisUrl }, registry: createRegistry(), logger: createLogger('t', { level: 'silent' }) });
    try {
      let entries: Awaited<ReturnType<typeof journal.recent>> = [];
      for (let i = 0; i < 100 && entries.length < 3; i++) {
        entries = await journal.recent();
        if (entries.length < 3) await new Promise((r) => setTimeout(r, 50));
      }
      expect(entries.length).toBeGreaterThanOrEqual(3);
      outputs.journal = JSON.stringify(entries);
      expect(outputs.journal).toContain('zen.dq.spamhaus.net');
    } finally {
      await journal.close();
    }

    const zones = await moat(['zones', '--config', config, '--json']);
    outputs.zones = zones.all;
    expect(JSON.parse(zones.out).zones.map((z: { zone: string }) => z.zone).sort()).toEqual([
      'dbl.dq.spamhaus.net',
      'zen.dq.spamhaus.net',
    ]);
    outputs.zonesText = (await moat(['zones', '--config', config])).all;
    outputs.explainLive = (await moat(['explain', '--client', LISTED, '--helo', 'a.example.net', '--sender', 'x@a.example.net', '--recipient', 'rcpt@example.org', '--config', config])).all;
    expect(outputs.explainLive).toContain('zen.dq.spamhaus.net');
    outputs.explainRecorded = (await moat(['explain', '--session', 's1', '--config', config, '--json'])).all;
    expect(outputs.explainRecorded).toContain('zen.dq.spamhaus.net');
    outputs.configCheck = (await moat(['config', 'check', config, '--show-policy'])).all;
    expect(outputs.configCheck).toContain('reject_rbl_client zen.dq.spamhaus.net');

    const consolePort = await freePort();
    consoleD = spawnDaemon(process.execPath, [join(ROOT, 'apps/console/src/main.ts')], {
      env: {
        ...process.env,
        ...env,
        MOAT_CONFIG: config,
        MOAT_CONSOLE_LISTEN: `127.0.0.1:${consolePort}`,
        MOAT_CONSOLE_PASSWORD_HASH: await hashPassword('console password', { N: 1024 }),
        MOAT_CONSOLE_METRICS: `http://127.0.0.1:${metricsPort}/metrics`,
      },
    });
    await waitForPort(consolePort, '127.0.0.1', 30_000).catch((e) => {
      throw new Error(`${e}\n${consoleD?.output()}`);
    });
    const base = `http://127.0.0.1:${consolePort}`;
    const cookie = (r: Response, name: string) => new RegExp(`(?:^|[;,]\\s*)${name}=([^;]*)`).exec(r.headers.getSetCookie().join(', '))?.[1];
    const form = await fetch(`${base}/login`);
    const pre = cookie(form, 'moat_login') ?? '';
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `moat_login=${pre}` },
      body: new URLSearchParams({ user: 'admin', password: 'console password', csrf: pre }).toString(),
    });
    expect(login.status).toBe(303);
    const session = `moat_session=${cookie(login, 'moat_session')}`;
    const pages: string[] = [];
    for (const p of ['/', '/api/overview', '/api/decisions?count=50', '/api/zones', '/api/greylist/stuck']) {
      const r = await fetch(`${base}${p}`, { headers: { cookie: session } });
      pages.push(`${p} ${r.status}\n${await r.text()}`);
    }
    outputs.console = pages.join('\n');
    expect(outputs.console).toContain('zen.dq.spamhaus.net');
  });

  it('no output contains the DQS key or the Redis password', async () => {
    await consoleD?.stop(5000);
    outputs.consoleLog = consoleD?.output() ?? '';
    outputs.policydLog = policyd.output();
    expect(outputs.policydLog).toContain('"event":"decision"');
    expect(Object.keys(outputs).sort()).toEqual(
      ['configCheck', 'console', 'consoleLog', 'explainLive', 'explainRecorded', 'journal', 'metrics', 'policydLog', 'replies', 'zones', 'zonesText'].sort(),
    );
    for (const [where, text] of Object.entries(outputs)) {
      expect(text.length, where).toBeGreaterThan(0);
      expect(text.toLowerCase().includes(KEY.toLowerCase()), `${where} holds the DQS key`).toBe(false);
      expect(text.includes(REDIS_PASSWORD), `${where} holds the Redis password`).toBe(false);
    }
  });
});
