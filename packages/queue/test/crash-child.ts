// Crash-test child: opens the queue, reads "<n>" lines on stdin, enqueues message n and prints
// "ack <n> <id>" only after enqueue resolved (the moment the gateway would answer 250).
import { createInterface } from 'node:readline';
import { createLogger, createRegistry } from '@moat/observe';
import { openQueue } from '../src/spool.ts';
import { crashMessage } from './crash-message.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-child.ts <spool dir> [seq|par]');
const queue = await openQueue({ dir, logger: createLogger('crash-child', { level: 'silent' }), registry: createRegistry() });
process.stdout.write('ready\n');
// `seq`: one enqueue at a time (kills land mid-write more often); `par`: all at once (group commit);
// `draft`: one at a time, each received into a draft first and enqueued from it (the gateway's way: the
// draft is adopted as the queue file), then the draft discarded.
const mode = process.argv[3];
const sequential = mode === 'seq' || mode === 'draft';

async function viaDraft(n: number): Promise<{ id: string }> {
  const draft = await queue.draft();
  try {
    const bytes = crashMessage(n);
    for (let at = 0; at < bytes.length; at += 700) void draft.append(bytes.subarray(at, at + 700));
    await draft.flushed();
    const skip = bytes.indexOf('\r\n\r\n') + 2;
    return await queue.enqueue({ sender: 'crash@sender.test', recipients: ['box@example.test'], message: draft.message(bytes.subarray(0, skip), skip) });
  } finally {
    await draft.discard();
  }
}
let chain: Promise<unknown> = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const n = Number(line.trim());
  const one = () =>
    (mode === 'draft' ? viaDraft(n) : queue.enqueue({ sender: 'crash@sender.test', recipients: ['box@example.test'], message: crashMessage(n) }))
      .then(({ id }) => process.stdout.write(`ack ${n} ${id}\n`))
      .catch((e) => process.stdout.write(`err ${n} ${(e as Error).message}\n`));
  if (sequential) chain = chain.then(one);
  else void one();
});
