// Queue operations for admins: `moat queue list|flush|hold|release|delete` (mailq, postqueue -f, postsuper -h/-H/-d).
// Trusts the local operator (file access to the spool is the permission); ids are checked before use as file names.
import { fileURLToPath } from 'node:url';
import { createLogger, createRegistry } from '@moat/observe';
import { openQueue, type Queue, type QueueEntry } from './spool.ts';

export const DEFAULT_QUEUE_DIR = '/var/spool/moat';

async function open(dir: string): Promise<Queue> {
  return openQueue({ dir, logger: createLogger('moat-queue-cli', { level: process.env.MOAT_LOG_LEVEL ?? 'warn' }), registry: createRegistry() });
}

function when(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms <= 0) return 'now (flushed)';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** mailq-style text: `*` after the id = being delivered, `!` = on hold, `#` = corrupt. */
export function formatList(entries: QueueEntry[]): string {
  if (entries.length === 0) return 'Mail queue is empty\n';
  const mark: Record<string, string> = { active: '*', hold: '!', corrupt: '#', incoming: ' ', deferred: ' ' };
  const out = ['-Queue ID-           --Size-- ----Arrival Time---- --State-- -Sender/Recipient-------'];
  let bytes = 0;
  for (const e of entries) {
    bytes += e.size;
    out.push(
      `${e.id}${mark[e.state] ?? ' '} ${String(e.size).padStart(8)} ${when(e.arrival).padEnd(20)} ${e.state.padEnd(9)} ${e.sender === '' ? 'MAILER-DAEMON' : (e.sender ?? '?')}`,
    );
    if (e.lastError) out.push(`  (${e.lastError.slice(0, 200)})`);
    for (const r of e.recipients ?? []) {
      out.push(`${' '.repeat(62)}${r.address}${r.state === 'pending' ? '' : ` [${r.state}]`}`);
    }
    if (e.state === 'deferred') out.push(`  next retry: ${when(e.nextRetry)}`);
    out.push('');
  }
  out.push(`-- ${Math.ceil(bytes / 1024)} Kbytes in ${entries.length} Request${entries.length === 1 ? '' : 's'}.`);
  return `${out.join('\n')}\n`;
}

export async function queueList(dir: string): Promise<QueueEntry[]> {
  const q = await open(dir);
  try {
    return await q.list();
  } finally {
    await q.close();
  }
}

/** All ids in states that `ALL` may touch for this operation. */
async function expand(q: Queue, ids: string[], states: ('incoming' | 'deferred' | 'hold' | 'corrupt')[]): Promise<string[]> {
  if (!ids.includes('ALL')) return ids;
  const out: string[] = [];
  for (const s of states) for (const n of await q.names(s)) out.push(n.split('.')[0]!);
  return [...new Set(out)];
}

export async function queueFlush(dir: string, ids?: string[]): Promise<number> {
  const q = await open(dir);
  try {
    return await q.flush(ids?.length && !ids.includes('ALL') ? ids : undefined);
  } finally {
    await q.close();
  }
}

export async function queueHold(dir: string, ids: string[]): Promise<string[]> {
  const q = await open(dir);
  try {
    return await q.hold(await expand(q, ids, ['incoming', 'deferred']));
  } finally {
    await q.close();
  }
}

export async function queueRelease(dir: string, ids: string[]): Promise<string[]> {
  const q = await open(dir);
  try {
    return await q.release(await expand(q, ids, ['hold']));
  } finally {
    await q.close();
  }
}

export async function queueDelete(dir: string, ids: string[]): Promise<string[]> {
  const q = await open(dir);
  try {
    return await q.delete(await expand(q, ids, ['incoming', 'deferred', 'hold', 'corrupt']));
  } finally {
    await q.close();
  }
}

const USAGE = `usage: moat queue [--dir DIR] [--json] list | flush [ID...] | hold ID...|ALL | release ID...|ALL | delete ID...|ALL
  list      show the queue like mailq (* being delivered, ! on hold, # corrupt)
  flush     make deferred messages due now (all, or the given ids)
  hold      keep messages from delivery until released
  release   put held messages back in the queue, due now
  delete    remove messages (not while being delivered)
  DIR defaults to $MOAT_QUEUE_DIR or ${DEFAULT_QUEUE_DIR}
`;

/** The `moat queue ...` entry: returns the exit code; output goes to the given streams. */
export async function queueCommand(
  argv: string[],
  io: { stdout: (s: string) => void; stderr: (s: string) => void } = {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  },
): Promise<number> {
  const args = [...argv];
  let dir = process.env.MOAT_QUEUE_DIR ?? DEFAULT_QUEUE_DIR;
  let json = false;
  const rest: string[] = [];
  while (args.length) {
    const a = args.shift()!;
    if (a === '--dir' || a === '-d') dir = args.shift() ?? dir;
    else if (a.startsWith('--dir=')) dir = a.slice(6);
    else if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') {
      io.stdout(USAGE);
      return 0;
    } else rest.push(a);
  }
  const [cmd, ...ids] = rest;
  try {
    switch (cmd) {
      case 'list': {
        const entries = await queueList(dir);
        io.stdout(json ? `${JSON.stringify(entries, null, 2)}\n` : formatList(entries));
        return 0;
      }
      case 'flush': {
        const n = await queueFlush(dir, ids);
        io.stdout(json ? `${JSON.stringify({ flushed: n })}\n` : `flushed ${n} deferred message(s)\n`);
        return 0;
      }
      case 'hold':
      case 'release':
      case 'delete': {
        if (ids.length === 0) {
          io.stderr(`moat queue ${cmd}: give queue ids or ALL\n`);
          return 2;
        }
        const fn = cmd === 'hold' ? queueHold : cmd === 'release' ? queueRelease : queueDelete;
        const done = await fn(dir, ids);
        const verb = cmd === 'hold' ? 'held' : cmd === 'release' ? 'released' : 'deleted';
        io.stdout(json ? `${JSON.stringify({ [verb]: done })}\n` : `${verb} ${done.length} message(s)${done.length ? `: ${done.join(' ')}` : ''}\n`);
        const missing = ids.filter((i) => i !== 'ALL' && !done.includes(i));
        if (missing.length) {
          const busy = new Set((await queueList(dir)).filter((e) => e.state === 'active').map((e) => e.id));
          const b = missing.filter((i) => busy.has(i));
          const n = missing.filter((i) => !busy.has(i));
          if (b.length) io.stderr(`moat queue ${cmd}: being delivered right now, try again: ${b.join(' ')}\n`);
          if (n.length) io.stderr(`moat queue ${cmd}: not found: ${n.join(' ')}\n`);
        }
        return missing.length ? 1 : 0;
      }
      default:
        io.stderr(USAGE);
        return 2;
    }
  } catch (e) {
    io.stderr(`moat queue ${cmd}: ${(e as Error).message}\n`);
    return 1;
  }
}

// Run directly only as this source file: inside an app's bundle import.meta.url is the bundle itself.
const self = fileURLToPath(import.meta.url);
if (process.argv[1] && self.endsWith('cli.ts') && self === process.argv[1]) {
  process.exitCode = await queueCommand(process.argv.slice(2));
}
