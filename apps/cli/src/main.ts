#!/usr/bin/env node
// The `moat` command: dispatches to one file per subcommand under commands/.
// Trusts its arguments only as far as each subcommand checks them; exit 2 means a usage error.
import { configCommand } from './commands/config.ts';
import { dkimCommand } from './commands/dkim.ts';
import { explainCommand } from './commands/explain.ts';
import { greylistCommand } from './commands/greylist.ts';
import { quarantineCommand } from './commands/quarantine.ts';
import { learnCommand } from './commands/learn.ts';
import { queueCommand } from './commands/queue.ts';
import { reloadCommand } from './commands/reload.ts';
import { tlsCommand } from './commands/tls.ts';
import { userCommand } from './commands/user.ts';
import { zonesCommand } from './commands/zones.ts';
import type { Command } from './commands/types.ts';

const COMMANDS: Readonly<Record<string, Command>> = {
  config: configCommand,
  dkim: dkimCommand,
  explain: explainCommand,
  greylist: greylistCommand,
  quarantine: quarantineCommand,
  learn: learnCommand,
  queue: queueCommand,
  reload: reloadCommand,
  tls: tlsCommand,
  user: userCommand,
  zones: zonesCommand,
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  moat ${name} ${c.usage}`);
  return `usage:\n${lines.join('\n')}\n`;
}

export async function main(argv: readonly string[], io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.err : io.out).write(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err.write(`moat: unknown command ${JSON.stringify(name)}\n${usage()}`);
    return 2;
  }
  return cmd.run(rest, io);
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
  // The command is done: a timer an adapter left behind (a Redis reconnect wait) must not hold the shell for seconds.
  setTimeout(() => process.exit(), 200).unref();
}
