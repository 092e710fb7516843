// `moat learn spam|ham FILE|-`: teach SpamAssassin's Bayes (shared by every MX through spamd) that a
// message is spam or ham. Trusts the operator, not the bytes: what is not an RFC 5322 message is refused.
import { open } from 'node:fs/promises';
import { checkMessage, createSpamdClient, isSpamdError, type LearnClass } from '@moat/spamd';
import { parseArgs, UsageError } from './args.ts';
import { cliLogger, CommandError, guard, loadConfigOrFail } from './context.ts';
import type { Command, Io } from './types.ts';

const USAGE = `spam|ham FILE|-   [--config FILE] [--json]
      teach spamd's Bayes store (Redis in a cluster: every MX learns) that the message in FILE (or on
      stdin) is spam or ham. Exit 0 learned or already learned, 1 spamd failed, 2 usage, 65 not a message`;

/** sysexits EX_DATAERR, as spamc: the input is not a message. */
export const EXIT_NOT_A_MESSAGE = 65;

/** Reads at most `limit + 1` bytes, so an oversized input is known without holding all of it. */
export async function readCapped(source: string, limit: number, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (source === '-') {
    for await (const c of stdin) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      chunks.push(b);
      size += b.length;
      if (size > limit) break;
    }
    return Buffer.concat(chunks).subarray(0, limit + 1);
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(source, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CommandError(`${source}: ${err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message)}`);
  }
  try {
    if (!(await fh.stat()).isFile()) throw new CommandError(`${source}: not a regular file`);
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

export const learnCommand: Command = {
  usage: USAGE,
  run(args, io) {
    return guard('learn', USAGE, io, () => learn(args, io));
  },
};

async function learn(args: readonly string[], io: Io): Promise<number> {
  const a = parseArgs(args, { values: ['config'], flags: ['json'] });
  const [as, source, ...extra] = a.positionals;
  if (as !== 'spam' && as !== 'ham') throw new UsageError(as === undefined ? 'spam or ham is required' : `${JSON.stringify(as)}: learn as spam or ham`);
  if (source === undefined) throw new UsageError('a FILE (or - for stdin) is required');
  if (extra.length) throw new UsageError(`one message at a time (extra: ${extra.join(' ')})`);
  const config = loadConfigOrFail(a.values.config);
  if (!config.spamd.enabled) throw new CommandError('spamd is not enabled in the config (spamd.enabled: false): nothing to teach');
  const raw = await readCapped(source, config.spamd.max_size, io.in ?? process.stdin);
  const check = checkMessage(raw, config.spamd.max_size);
  const name = source === '-' ? 'stdin' : source;
  if (!check.ok) {
    io.err.write(`moat learn: ${name} is not a mail message (${check.reason}): ${check.detail}\n`);
    return EXIT_NOT_A_MESSAGE;
  }

  const logger = cliLogger(io).child({ component: 'spamd' });
  const client = createSpamdClient({
    host: config.spamd.host,
    port: config.spamd.port,
    timeoutMs: config.spamd.timeout,
    connectTimeoutMs: config.spamd.connect_timeout,
    maxConnections: 1,
    logger,
  });
  try {
    const r = await client.learn({ message: raw, as: as as LearnClass });
    const what = r.outcome === 'learned' ? `learned as ${as}` : `nothing changed: already learned as ${as}, or spamd's Bayes store is off or unreachable`;
    io.out.write(a.flags.has('json') ? `${JSON.stringify({ as, outcome: r.outcome, bytes: raw.length, spamd: `${config.spamd.host}:${config.spamd.port}` })}\n` : `${name}: ${what}\n`);
    return 0;
  } catch (e) {
    if (isSpamdError(e)) throw new CommandError(`spamd at ${config.spamd.host}:${config.spamd.port}: ${e.message} [${e.code}]`);
    throw e;
  } finally {
    client.close();
  }
}
