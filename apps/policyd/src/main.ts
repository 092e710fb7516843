#!/usr/bin/env node
// moat-policyd: moat's engine behind Postfix's check_policy_service (SMTPD access policy delegation).
// Talks to Postfix smtpd (policy port), the configured resolver (DNS lists), Redis (greylist), Prometheus (/metrics).
import { parseArgs } from 'node:util';
import { type CompiledConfig, type Config, ConfigError, compileConfig, formatConfigErrors, loadConfig } from '@moat/config';
import { createJournal, journalOptionsFromConfig } from '@moat/journal';
import { createLogger, defaultRegistry, serveMetrics } from '@moat/observe';
import { replyCode } from '@moat/policy';
import { buildEngine } from '@moat/runtime';
import { splitHostPort } from './listen.ts';
import { bufferedStdout } from './log-buffer.ts';
import { policydSpec } from './profile.ts';
import { createPolicyServer } from './server.ts';
import { settingsFrom } from './settings.ts';

const usage = `usage: moat-policyd --config FILE [--listen HOST:PORT] [--metrics HOST:PORT|off]
  --config   moat.yaml (MOAT_* environment variables override it)
  --listen   policy port for Postfix (default: policyd.listen, 127.0.0.1:10023)
  --metrics  Prometheus /metrics and /healthz (default: metrics.listen when metrics.enabled; "off" disables)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, listen: { type: 'string' }, metrics: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.config) {
    console.error(usage);
    process.exit(values.help ? 0 : 64);
  }
  const logOut = bufferedStdout();
  const logger = createLogger('policyd', { destination: logOut as unknown as NodeJS.WritableStream });
  let config: Config;
  let compiled: CompiledConfig;
  try {
    config = loadConfig(values.config);
    compiled = compileConfig(config); // reads the cidr maps and users file the config names
  } catch (e) {
    console.error(e instanceof ConfigError ? formatConfigErrors(e) : String(e));
    process.exit(78); // EX_CONFIG
  }
  const settings = settingsFrom(config.policyd);
  const built = await buildEngine(config, {
    registry: defaultRegistry,
    logger,
    compiled,
    adjustSpec: (spec) => policydSpec(spec, config.policyd.skip),
  });
  const journal = config.policyd.journal
    ? createJournal({ ...journalOptionsFromConfig(config), registry: defaultRegistry, logger: logger.child({ component: 'journal' }) })
    : undefined;
  const server = createPolicyServer({ engine: built.engine, settings, logger, registry: defaultRegistry, replyCode, sink: journal });
  const listen = splitHostPort(values.listen ?? config.policyd.listen);
  const bound = await server.listen(listen.host, listen.port);

  const metricsAt = values.metrics ?? (config.metrics.enabled ? config.metrics.listen : 'off');
  const metrics =
    metricsAt === 'off' ? undefined : await serveMetrics(defaultRegistry, { ...splitHostPort(metricsAt), health: () => built.health() });
  logger.info(
    { listen: `${bound.host}:${bound.port}`, metrics: metricsAt, stages: settings.stages, skip: config.policyd.skip },
    'policyd listening',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'policyd stopping');
    await server.close(5000);
    metrics?.close();
    await built.close();
    await journal?.close();
    logOut.flushSync();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  console.error(`policyd: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
