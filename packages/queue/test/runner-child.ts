// A delivery runner in its own process (for the two-runners-one-spool test): smtp next hop on argv[3].
import { createLogger, createRegistry } from '@moat/observe';
import { nextHopTransport, openQueue, startDelivery } from '../src/index.ts';

const [dir, port] = [process.argv[2]!, Number(process.argv[3])];
const registry = createRegistry();
const queue = await openQueue({ dir, logger: createLogger('runner-child', { level: process.env.CHILD_LOG ?? 'silent' }), registry });
const runner = await startDelivery({
  queue,
  registry,
  transports: { local: nextHopTransport({ host: '127.0.0.1', port, heloName: 'child.test' }) },
  scanIntervalMs: 20,
  concurrency: 8,
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  runner.stop().then(() => process.exit(0));
});
