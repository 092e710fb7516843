// `moat queue list|flush|hold|release|delete`: the spool's operations (mailq, postqueue -f, postsuper -h/-H/-d).
// Presents @moat/queue's data functions; `list` opens the spool read-only, and no operation creates a spool.
import { existsSync } from 'node:fs';
import { DEFAULT_QUEUE_DIR, type QueueEntry, queueDelete, queueFlush, queueHold, queueList, queueRelease } from '@moat/queue';
import { parseArgs, safe, UsageError } from './args.ts';
import { CommandError, cliLogger, guard, loadConfigOrFail } from './context.ts';
import type { Command, Io } from './types.ts';

const USAGE = `[--dir DIR] [--config FILE] [--json] list | flush [ID...] | hold ID...|ALL | release ID...|ALL | delete ID...|ALL
  list      show the queue like mailq (* being delivered, ! on hold, # corrupt); reads only
  flush     make deferred messages due now (all, or the given ids)
  hold      keep messages from delivery until released
  release   put held messages back in the queue, due now
  delete    remove messages (not while being delivered)
  DIR: --dir, else $MOAT_QUEUE_DIR, else queue.dir of the config (--config, $MOAT_CONFIG or ./moat.yaml), else ${DEFAULT_QUEUE_DIR}.
  The stack's spool is in a Docker volume: from the host, run \`npm run moat -- queue list\`.`;

function when(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms <= 0) return 'now (flushed)';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** mailq-style text: `*` after the id = being delivered, `!` = on hold, `#` = corrupt. */
export function formatList(entries: readonly QueueEntry[]): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  const mark: Record<string, string> = { active: '*', hold: '!', corrupt: '#', incoming: ' ', deferred: ' ' };
  const out = ['-Queue ID-           --Size-- ----Arrival Time---- --State-- -Sender/Recipient-------'];
  let bytes = 0;
  for (const e of entries) {
    bytes += e.size;
    out.push(
      `${e.id}${mark[e.state] ?? ' '} ${String(e.size).padStart(8)} ${when(e.arrival).padEnd(20)} ${e.state.padEnd(9)} ${e.sender === '' ? 'MAILER-DAEMON' : safe(e.sender ?? '?')}`,
    );
    if (e.lastError) out.push(`  (${safe(e.lastError.slice(0, 200))})`);
    for (const r of e.recipients ?? []) {
      out.push(`${' '.repeat(62)}${safe(r.address)}${r.state === 'pending' ? '' : ` [${r.state}]`}`);
    }
    if (e.state === 'deferred') out.push(`  next retry: ${when(e.nextRetry)}`);
    out.push('');
  }
  out.push(`-- ${Math.ceil(bytes / 1024)} Kbytes in ${entries.length} Request${entries.length === 1 ? '' : 's'}.`);
  return `${out.join('\n')}\n`;
}

/** The spool directory: --dir, $MOAT_QUEUE_DIR, the config's queue.dir (when a config is named or present), the default. */
export function spoolDir(values: Record<string, string>, env: NodeJS.ProcessEnv = process.env): string {
  if (values.dir !== undefined) return values.dir;
  if (env.MOAT_QUEUE_DIR) return env.MOAT_QUEUE_DIR;
  if (values.config !== undefined || env.MOAT_CONFIG || existsSync('moat.yaml')) return loadConfigOrFail(values.config).queue.dir;
  return DEFAULT_QUEUE_DIR;
}

async function run(args: readonly string[], io: Io): Promise<number> {
  // `-d DIR` is the old short form of --dir.
  const a = parseArgs(
    args.map((x) => (x === '-d' ? '--dir' : x)),
    { values: ['dir', 'config'], flags: ['json'] },
  );
  const [cmd, ...ids] = a.positionals;
  const json = a.flags.has('json');
  const say = (obj: unknown, text: string) => io.out.write(json ? `${JSON.stringify(obj, null, 2)}\n` : text);
  if (cmd === undefined) throw new UsageError('missing subcommand');
  if (!['list', 'flush', 'hold', 'release', 'delete'].includes(cmd)) throw new UsageError(`unknown subcommand ${JSON.stringify(cmd)}`);
  if (cmd === 'list' && ids.length) throw new UsageError(`unexpected argument ${JSON.stringify(ids[0])}`);
  if ((cmd === 'hold' || cmd === 'release' || cmd === 'delete') && ids.length === 0) throw new UsageError(`${cmd}: give queue ids or ALL`);
  const dir = spoolDir(a.values);
  const opts = { logger: cliLogger(io) };
  try {
    switch (cmd) {
      case 'list': {
        const entries = await queueList(dir);
        say(entries, formatList(entries));
        return 0;
      }
      case 'flush': {
        const n = await queueFlush(dir, ids, opts);
        say({ flushed: n }, `flushed ${n} deferred message(s)\n`);
        return 0;
      }
      default: {
        const fn = cmd === 'hold' ? queueHold : cmd === 'release' ? queueRelease : queueDelete;
        const done = await fn(dir, ids, opts);
        const verb = cmd === 'hold' ? 'held' : cmd === 'release' ? 'released' : 'deleted';
        say({ [verb]: done }, `${verb} ${done.length} message(s)${done.length ? `: ${done.join(' ')}` : ''}\n`);
        const missing = ids.filter((i) => i !== 'ALL' && !done.includes(i));
        if (missing.length) {
          const busy = new Set((await queueList(dir)).filter((e) => e.state === 'active').map((e) => e.id));
          const b = missing.filter((i) => busy.has(i));
          const n = missing.filter((i) => !busy.has(i));
          if (b.length) io.err.write(`moat queue ${cmd}: being delivered right now, try again: ${b.map(safe).join(' ')}\n`);
          if (n.length) io.err.write(`moat queue ${cmd}: not found: ${n.map(safe).join(' ')}\n`);
        }
        return missing.length ? 1 : 0;
      }
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'EQUEUE_NOSPOOL') throw new CommandError(`${err.message}${a.values.dir === undefined ? ' (the stack keeps its spool in a Docker volume: npm run moat -- queue ...)' : ''}`);
    throw e;
  }
}

export const queueCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('queue', USAGE, io, () => run(args, io));
  },
};
