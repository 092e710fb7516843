// The least a policy server can do on this machine, as a yardstick for bench/policyd.ts (not a product):
// find each request's blank line and answer one constant action; with --redis, first run moat's real greylist
// script (one auto-pipelined EVALSHA through ioredis, keys and arguments shaped like the store's, delay 1 h)
// per request.
// No attribute parsing, engine, log line or metrics. Loopback only.
//   node bench/floor-server.ts --listen 127.0.0.1:PORT [--workers N] [--redis redis://127.0.0.1:PORT]
import cluster from 'node:cluster';
import { hash } from 'node:crypto';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { DECIDE_LUA } from '../packages/greylist/src/script.ts';

const { values } = parseArgs({
  options: { listen: { type: 'string' }, workers: { type: 'string', default: '1' }, redis: { type: 'string' } },
});
const [host, port] = (values.listen ?? '127.0.0.1:0').split(':') as [string, string];
const workers = Number(values.workers);

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  // signal the workers' processes directly (worker.kill() waits for the IPC disconnect), exit after them
  process.on('SIGTERM', () => {
    const left = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    if (left.length === 0) process.exit(0);
    let running = left.length;
    for (const w of left) {
      w.process.once('exit', () => {
        if (--running === 0) process.exit(0);
      });
      w.process.kill('SIGTERM');
    }
  });
} else {
  if (cluster.isWorker) process.on('disconnect', () => process.exit(0)); // the primary is gone
  const reply = Buffer.from('action=DEFER_IF_PERMIT 4.7.1 Greylisted, please try again in 3600 seconds\n\n');
  type Decide = (k1: string, k2: string, ...args: (string | number)[]) => Promise<unknown>;
  let decide: Decide | undefined;
  if (values.redis) {
    const redis = new Redis(values.redis, { enableAutoPipelining: true, connectionName: 'moat-bench-floor' });
    redis.defineCommand('moatGreylistDecide', { numberOfKeys: 2, lua: DECIDE_LUA });
    decide = (redis as unknown as { moatGreylistDecide: Decide }).moatGreylistDecide.bind(redis);
  }
  /** A request's value for `name` (no full parse: the floor only needs the triplet). */
  const attr = (req: string, name: string) => {
    const at = req.indexOf(`\n${name}=`);
    if (at < 0) return '';
    const end = req.indexOf('\n', at + 1);
    return req.slice(at + name.length + 2, end < 0 ? req.length : end);
  };
  createServer((socket) => {
    let buf = '';
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (let k = buf.indexOf('\n\n'); k >= 0; k = buf.indexOf('\n\n')) {
        const req = `\n${buf.slice(0, k)}`;
        buf = buf.slice(k + 2);
        if (!decide) {
          socket.write(reply);
          continue;
        }
        const client = attr(req, 'client_address');
        const sender = attr(req, 'sender');
        const recipient = attr(req, 'recipient');
        const id = client.includes(':') ? client : client.slice(0, client.lastIndexOf('.'));
        const t = hash('sha256', `${sender}\n${recipient}`, 'hex').slice(0, 32);
        decide(`moat:floor:{${id}}:t:${t}`, `moat:floor:{${id}}:awl`, '', 3600, 172800, 3110400, 0, 3110400, 3600, sender, recipient, client, '').then(
          () => socket.write(reply),
          () => socket.destroy(),
        );
      }
    });
  }).listen(Number(port), host);
  process.on('SIGTERM', () => process.exit(0));
}
