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
// `seq`: one enqueue at a time (kills land mid-write more often); `par`: all at once (group commit).
const sequential = process.argv[3] === 'seq';
let chain: Promise<unknown> = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const n = Number(line.trim());
  const one = () =>
    queue
      .enqueue({ sender: 'crash@sender.test', recipients: ['box@example.test'], message: crashMessage(n) })
      .then(({ id }) => process.stdout.write(`ack ${n} ${id}\n`))
      .catch((e) => process.stdout.write(`err ${n} ${(e as Error).message}\n`));
  if (sequential) chain = chain.then(one);
  else void one();
});
