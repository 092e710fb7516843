// `moat queue list|flush|hold|release|delete`: the spool's operations (mailq, postqueue -f, postsuper -h/-H/-d).
// Delegates to @moat/queue's ops API; the spool directory comes from --dir, $MOAT_QUEUE_DIR, or moat.yaml's queue.dir.
import { existsSync } from 'node:fs';
import { queueCommand as queueOps } from '@moat/queue/cli';
import { loadConfigOrFail, guard } from './context.ts';
import type { Command } from './types.ts';

const USAGE = `[--dir DIR] [--config FILE] [--json] list | flush [ID...] | hold ID...|ALL | release ID...|ALL | delete ID...|ALL`;

export const queueCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('queue', USAGE, io, async () => {
      const rest: string[] = [];
      let configFile: string | undefined;
      let hasDir = false;
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === '--config') configFile = args[++i];
        else if (a.startsWith('--config=')) configFile = a.slice(9);
        else {
          if (a === '--dir' || a === '-d' || a.startsWith('--dir=')) hasDir = true;
          rest.push(a);
        }
      }
      // The spool dir from the config, unless given: only when a config is named or present.
      if (!hasDir && !process.env.MOAT_QUEUE_DIR && (configFile || process.env.MOAT_CONFIG || existsSync('moat.yaml'))) {
        rest.unshift('--dir', loadConfigOrFail(configFile).queue.dir);
      }
      return queueOps(rest, { stdout: (s) => io.out.write(s), stderr: (s) => io.err.write(s) });
    });
  },
};
