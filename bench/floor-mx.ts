// The least an MX can do on this machine, as a yardstick for bench/memory.ts (not a product): smtp-server
// accepting, each message streamed to a file in tmp/, fsync'ed, renamed into incoming/, the directory fsync'ed,
// then 250. No checks, no headers, no scanning, no delivery. Loopback only.
//   node bench/floor-mx.ts --listen 127.0.0.1:PORT --spool DIR [--size BYTES]
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';

const { values } = parseArgs({ options: { listen: { type: 'string' }, spool: { type: 'string' }, size: { type: 'string', default: '81920000' } } });
const [host, port] = (values.listen ?? '127.0.0.1:0').split(':') as [string, string];
const spool = values.spool ?? '/tmp/floor-mx';
await mkdir(join(spool, 'tmp'), { recursive: true });
await mkdir(join(spool, 'incoming'), { recursive: true });
let n = 0;

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  await fh.sync();
  await fh.close();
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: Number(values.size),
  maxClients: 5000,
  socketTimeout: 300_000,
  onData(stream, _session, cb) {
    const name = `${process.pid}.${++n}`;
    const tmp = join(spool, 'tmp', name);
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    stream.pipe(out);
    out.on('error', (e) => cb(e));
    out.on('finish', () => {
      void (async () => {
        try {
          await fsyncPath(tmp);
          await rename(tmp, join(spool, 'incoming', name));
          await fsyncPath(join(spool, 'incoming'));
          cb(null, `queued as ${name}`);
        } catch (e) {
          cb(e as Error);
        }
      })();
    });
  },
});
server.listen(Number(port), host, () => process.stdout.write('ready\n'));
