// A delivery runner in its own process (multi-runner, runner-crash and strace tests).
// argv: <spool dir> <smtp port | maildir:/root>
import { createLogger, createRegistry } from '@moat/observe';
import { maildirTransport, nextHopTransport, openQueue, startDelivery } from '../src/index.ts';

const [dir, target] = [process.argv[2]!, process.argv[3]!];
const registry = createRegistry();
const queue = await openQueue({ dir, logger: createLogger('runner-child', { level: process.env.CHILD_LOG ?? 'silent' }), registry });
const local = target.startsWith('maildir:')
  ? maildirTransport({ root: target.slice('maildir:'.length), hostname: 'child.test' })
  : nextHopTransport({ host: '127.0.0.1', port: Number(target), heloName: 'child.test' });
const runner = await startDelivery({ queue, registry, transports: { local }, scanIntervalMs: 20, concurrency: 8 });
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  runner.stop().then(() => process.exit(0));
});
// Orphaned (the test runner died): do not linger.
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 500).unref();
