// Real daemons for policyd's tests: Redis, rbldnsd + Unbound serving a test DNS list, and policyd itself
// started with the documented command. Everything on 127.0.0.1; Unbound refuses every other name.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export const BLOCKED_CLIENT = '203.0.113.66';
export const TEST_ZONE = 'bl.moat.test';
const mainTs = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Stack {
  redis: RedisServer;
  rbldnsd: RbldnsdServer;
  unbound: UnboundServer;
  configFile: string;
  stop(): Promise<void>;
}

/** Redis, the test zone (RFC 5782 test point 127.0.0.2 plus BLOCKED_CLIENT) and a moat.yaml using them. */
export async function startStack(opts: { greylistDelay?: string; extraYaml?: string } = {}): Promise<Stack> {
  const dir = await tmpDir('policyd');
  const redis = await startRedis();
  const rbldnsd = await startRbldnsd({
    zones: { [TEST_ZONE]: `:127.0.0.2:Listed in the moat test list, see https://moat.test/?$\n127.0.0.2\n${BLOCKED_CLIENT}\n` },
  });
  const unbound = await startUnbound({ stubZones: { [TEST_ZONE]: rbldnsd.stubAddr } });
  const configFile = join(dir.path, 'moat.yaml');
  await writeFile(
    configFile,
    `version: 1
policy:
  hostname: mx.moat.test
  recipient_restrictions: |
    reject_rbl_client ${TEST_ZONE},
    check_policy_service inet:127.0.0.1:10023
recipients:
  domains: [example.org]
dns:
  resolver: ${unbound.server}
greylist:
  redis: { url: "${redis.url}" }
  delay: ${opts.greylistDelay ?? '2s'}
  auto_whitelist_count: 0
${opts.extraYaml ?? ''}`,
  );
  return {
    redis,
    rbldnsd,
    unbound,
    configFile,
    async stop() {
      await Promise.allSettled([unbound.stop(), rbldnsd.stop(), redis.stop()]);
      await dir.remove();
    },
  };
}

/** A copy of the stack's moat.yaml with more YAML appended (e.g. a `policyd:` section). */
export async function variantConfig(stack: Stack, name: string, extraYaml: string): Promise<string> {
  const file = stack.configFile.replace(/moat\.yaml$/, `moat-${name}.yaml`);
  await writeFile(file, `${await readFile(stack.configFile, 'utf8')}\n${extraYaml}`);
  return file;
}

export interface Policyd {
  port: number;
  daemon: Daemon;
  stop(): Promise<void>;
}

/** `node apps/policyd/src/main.ts --config FILE --listen 127.0.0.1:PORT`, the README's command. */
export async function startPolicyd(configFile: string, port?: number, logLevel?: string, metrics = 'off'): Promise<Policyd> {
  const p = port ?? (await freePort());
  const daemon = spawnDaemon(process.execPath, [mainTs, '--config', configFile, '--listen', `127.0.0.1:${p}`, '--metrics', metrics], {
    env: { ...process.env, MOAT_LOG_LEVEL: logLevel ?? process.env.MOAT_LOG_LEVEL ?? 'warn' },
  });
  try {
    await waitForPort(p, '127.0.0.1', 20_000);
  } catch (e) {
    await daemon.kill();
    throw new Error(`policyd did not start: ${(e as Error).message}\n${daemon.output()}`);
  }
  return { port: p, daemon, stop: () => daemon.stop(5000) };
}

export interface SwaksResult {
  /** Reply code to RCPT TO (the policy's answer). */
  rcpt: number | undefined;
  /** Reply code after the message data (250 = queued). */
  data: number | undefined;
  output: string;
}

/** One SMTP transaction with swaks, speaking as `client` through XCLIENT. */
export function swaks(port: number, o: { client: string; from: string; to: string; helo?: string }): Promise<SwaksResult> {
  const args = [
    '--server', `127.0.0.1:${port}`,
    '--xclient-addr', o.client,
    '--helo', o.helo ?? 'mail.sender.example',
    '--from', o.from,
    '--to', o.to,
    '--timeout', '20',
    '--hide-informational',
  ];
  return new Promise((resolve) => {
    execFile('swaks', args, { timeout: 30_000 }, (_err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      const lines = output.split('\n');
      const after = (cmd: RegExp) => {
        const i = lines.findIndex((l) => cmd.test(l));
        if (i < 0) return undefined;
        const reply = lines.slice(i + 1).find((l) => /^<[-*~]+\s+\d{3}[ -]/.test(l));
        return reply ? Number(/(\d{3})/.exec(reply)![1]) : undefined;
      };
      resolve({ rcpt: after(/^ *-> RCPT TO/), data: after(/^ *-> \.$/), output });
    });
  });
}
