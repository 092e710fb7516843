// What the operational subcommands share: loading moat.yaml once, a quiet logger on stderr, and
// the services built the way the apps build them (runtime's buildEngine, the journal).
// Trusts the config it loads; every service it opens is closed by the caller through `close()`.
import { type Config, ConfigError, formatConfigErrors, loadConfig } from '@moat/config';
import { createJournal, type Journal, journalOptionsFromConfig } from '@moat/journal';
import { createLogger, createRegistry, type Logger } from '@moat/observe';
import type { DnsListPort, GreylistPort } from '@moat/policy';
import { type BuiltEngine, buildEngine } from '@moat/runtime';
import { HelpRequested, UsageError } from './args.ts';
import type { Io } from './types.ts';

/** A failure the command reports as one line and exit 1 (no stack trace). */
export class CommandError extends Error {}

export function cliLogger(io: Io): Logger {
  return createLogger('moat-cli', { level: process.env.MOAT_LOG_LEVEL ?? 'error', destination: io.err });
}

export function loadConfigOrFail(file: string | undefined): Config {
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new CommandError(formatConfigErrors(e));
    throw e;
  }
}

/** A DNS list port that never queries (for commands that need only the greylist). */
export const noDnsLists: DnsListPort = {
  lookup: async (qs) => qs.map((q) => ({ zone: q.zone, key: q.key, status: 'unknown' as const, codes: [], detail: 'not queried' })),
};

/** A greylist port that never touches Redis (for commands that need only the DNS lists). */
export const noGreylist: GreylistPort = { check: async () => ({ action: 'pass', reason: 'known', detail: 'not asked' }) };

export async function engineFor(
  config: Config,
  io: Io,
  ports: { dnslist?: DnsListPort; greylist?: GreylistPort } = {},
): Promise<BuiltEngine> {
  // a one-shot command: no file watch, no SIGHUP handler
  return buildEngine(config, { registry: createRegistry(), logger: cliLogger(io), ports, watchMaps: false });
}

export function journalFor(config: Config, io: Io): Journal {
  // Readers may wait longer than the deciding nodes' 250 ms write budget.
  return createJournal({ ...journalOptionsFromConfig(config), timeoutMs: 3000, registry: createRegistry(), logger: cliLogger(io) });
}

/** Runs a command body: usage errors exit 2, command errors exit 1 with one line, others propagate. */
export async function guard(name: string, usage: string, io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.out.write(`usage: moat ${name} ${usage}\n`);
      return 0;
    }
    if (e instanceof UsageError) {
      io.err.write(`moat ${name}: ${e.message}\nusage: moat ${name} ${usage}\n`);
      return 2;
    }
    if (e instanceof CommandError) {
      io.err.write(`moat ${name}: ${e.message}\n`);
      return 1;
    }
    const err = e as Error & { code?: string };
    io.err.write(`moat ${name}: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
    return 1;
  }
}
