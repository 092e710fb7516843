// Quarantine crash-test child: `hold` mode reads "<n>" lines and quarantines message n (enqueue with hold,
// from a draft on odd n), printing "ack <n> <id>" once enqueue resolved; `release` mode reads ids and
// releases each, printing "released <id>". The parent SIGKILLs it at random moments.
import { createInterface } from 'node:readline';
import { createLogger, createRegistry } from '@moat/observe';
import { openQuarantine } from '../src/quarantine.ts';
import { openQueue } from '../src/spool.ts';
import { crashMessage } from './crash-message.ts';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'hold' && mode !== 'release')) throw new Error('usage: quarantine-crash-child.ts <spool dir> hold|release');
const logger = createLogger('quarantine-crash-child', { level: 'silent' });
const queue = await openQueue({ dir, logger, registry: createRegistry() });
const quarantine = openQuarantine({ dir, logger, registry: createRegistry() });
process.stdout.write('ready\n');
const hold = { check: 'crash', reason: 'crash test', score: 7 };

async function quarantineOne(n: number): Promise<string> {
  const bytes = crashMessage(n);
  if (n % 2 === 0) return (await queue.enqueue({ sender: 'crash@sender.test', recipients: ['box@example.test'], message: bytes, hold })).id;
  const draft = await queue.draft();
  try {
    for (let at = 0; at < bytes.length; at += 700) void draft.append(bytes.subarray(at, at + 700));
    await draft.flushed();
    const skip = bytes.indexOf('\r\n\r\n') + 2;
    return (await queue.enqueue({ sender: 'crash@sender.test', recipients: ['box@example.test'], message: draft.message(bytes.subarray(0, skip), skip), hold })).id;
  } finally {
    await draft.discard();
  }
}

let chain: Promise<unknown> = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const arg = line.trim();
  chain = chain.then(() =>
    (mode === 'hold' ? quarantineOne(Number(arg)).then((id) => `ack ${arg} ${id}`) : quarantine.release(arg, { by: 'crash-test' }).then(() => `released ${arg}`))
      .then((s) => process.stdout.write(`${s}\n`))
      .catch((e) => process.stdout.write(`err ${arg} ${(e as Error).message}\n`)),
  );
});
