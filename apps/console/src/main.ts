#!/usr/bin/env node
// moat-console: the web console app. `main.ts` serves it; `main.ts hash-password` prints a scrypt hash
// for MOAT_CONSOLE_PASSWORD_HASH (password read from stdin). Binds MOAT_CONSOLE_LISTEN, loopback by default.
import { ConfigError, formatConfigErrors, HostPortError, loadConfig } from '@moat/config';
import { createLogger, defaultRegistry, serveMetrics } from '@moat/observe';
import { hashPassword } from '@moat/auth';
import { type ConsoleSettings, consoleSettings, SettingsError } from './console-settings.ts';
import { startConsole } from './server.ts';
import { buildServices } from './services.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'hash-password') {
    const pw = await readStdin();
    if (pw.length < 8) {
      process.stderr.write('moat-console hash-password: give a password of 8 characters or more on stdin\n');
      return 2;
    }
    process.stdout.write(`${await hashPassword(pw)}\n`);
    return 0;
  }
  if (argv.length) {
    process.stderr.write('usage: moat-console            (serve; config from $MOAT_CONFIG, settings: console: in moat.yaml or MOAT_CONSOLE_*)\n       moat-console hash-password < password\n');
    return 2;
  }
  const logger = createLogger('console');
  let config: ReturnType<typeof loadConfig>;
  let settings: ConsoleSettings;
  try {
    config = loadConfig();
    settings = consoleSettings(config);
  } catch (e) {
    if (e instanceof ConfigError) process.stderr.write(`${formatConfigErrors(e)}\n`);
    else if (e instanceof SettingsError || e instanceof HostPortError) process.stderr.write(`moat-console: ${e.message}\n`);
    else throw e;
    return 1;
  }
  const services = await buildServices(config, { registry: defaultRegistry, logger });
  // The console's own counters (logins, actions, journal reads), on a separate listener only when asked for.
  const metricsServer = settings.metricsListen ? await serveMetrics(defaultRegistry, settings.metricsListen) : undefined;
  const running = await startConsole({ settings, services, hostname: config.policy.hostname, logger, registry: defaultRegistry });
  logger.info({ event: 'console-listening', url: running.url, metrics: settings.metricsUrls }, 'console listening');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    // `docker compose kill -s HUP` may reach the console too: its settings are read once, so say so instead of dying (Node's default)
    process.on('SIGHUP', () => logger.warn({ event: 'reload', outcome: 'needs-restart' }, 'SIGHUP: the console reads its settings at start; restart it to apply changes'));
    process.once('SIGINT', stop);
  });
  await running.close();
  metricsServer?.close();
  await services.close();
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
